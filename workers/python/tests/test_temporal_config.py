"""Temporal's connection settings, read as the Node processes read them (infra/config.ts): no network, just the
keyword arguments the worker hands to Client.connect."""

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from remedy_worker.temporal_config import TemporalConfigError, load_temporal_settings

CA_PEM = b"-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
CERT_PEM = b"-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n"
KEY_PEM = b"-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n"


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def load(env: dict[str, str], warnings: list[str] | None = None):
    # HOME points nowhere, so a temporal.toml of the person running the tests is never read.
    return load_temporal_settings({"HOME": "/nonexistent", **env}, (warnings if warnings is not None else []).append)


def test_a_toml_profile_with_an_api_key_and_tls_gives_the_connect_arguments(tmp_path):
    ca = write(tmp_path, "ca.pem", CA_PEM)
    config = write(
        tmp_path,
        "temporal.toml",
        f"""
[profile.default]
address = "localhost:7233"

[profile.cloud]
address = "ml-prod.acct.tmprl.cloud:7233"
namespace = "ml-prod.acct"
api_key = "secret-api-key"
[profile.cloud.tls]
server_ca_cert_path = "{ca}"
server_name = "ml-prod.acct.tmprl.cloud"
[profile.cloud.grpc_meta]
x-team = "ml"
""",
    )
    s = load({"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "cloud"})
    args = s.connect_args
    assert args["target_host"] == "ml-prod.acct.tmprl.cloud:7233"
    assert args["namespace"] == "ml-prod.acct"
    assert args["api_key"] == "secret-api-key"
    assert isinstance(args["tls"], TLSConfig)
    assert args["tls"].server_root_ca_cert == CA_PEM
    assert args["tls"].domain == "ml-prod.acct.tmprl.cloud"
    assert args["tls"].client_cert is None and args["tls"].client_private_key is None
    assert dict(args["rpc_metadata"]) == {"x-team": "ml"}
    assert (s.address_from, s.profile, s.config_file) == ("profile", "cloud", str(config))


def test_variables_override_the_profile_and_mtls_comes_from_files(tmp_path):
    cert, key = write(tmp_path, "c.pem", CERT_PEM), write(tmp_path, "k.pem", KEY_PEM)
    config = write(tmp_path, "t.toml", '[profile.default]\naddress = "a.example:7233"\nnamespace = "from-file"\n')
    s = load(
        {
            "TEMPORAL_CONFIG_FILE": str(config),
            "TEMPORAL_NAMESPACE": "from-env",
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(cert),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(key),
        }
    )
    assert (s.address, s.namespace, s.profile) == ("a.example:7233", "from-env", "default")
    assert s.connect_args["tls"].client_cert == CERT_PEM
    assert s.connect_args["tls"].client_private_key == KEY_PEM
    assert "api_key" not in s.connect_args


def test_no_settings_mean_the_local_server_without_tls():
    s = load({})
    assert s.connect_args == {"target_host": "localhost:7233", "namespace": "default", "tls": False}
    assert (s.address_from, s.profile) == ("default", None)


def test_an_api_key_turns_tls_on_unless_tls_is_switched_off():
    assert load({"TEMPORAL_API_KEY": "k"}).connect_args["tls"] is True
    for off in ("false", "0", "no"):
        args = load({"TEMPORAL_API_KEY": "k", "TEMPORAL_TLS": off}).connect_args
        assert args["tls"] is False and args["api_key"] == "k"
    assert isinstance(load({"TEMPORAL_TLS": "yes"}).connect_args["tls"], TLSConfig)


def test_the_old_certificate_names_still_work_with_a_warning(tmp_path):
    ca = write(tmp_path, "ca.pem", CA_PEM)
    warnings: list[str] = []
    s = load({"TEMPORAL_TLS_CA_PATH": str(ca)}, warnings)
    assert s.connect_args["tls"].server_root_ca_cert == CA_PEM
    assert warnings == [
        "TEMPORAL_TLS_CA_PATH is deprecated: rename it to TEMPORAL_TLS_SERVER_CA_CERT_PATH (same meaning;"
        " Temporal's CLI and SDKs read that name)."
    ]


def refused(env: dict[str, str]) -> str:
    with pytest.raises(TemporalConfigError) as caught:
        load(env)
    return str(caught.value)


def test_bad_settings_are_refused_naming_the_setting(tmp_path):
    config = write(tmp_path, "t.toml", '[profile.prod]\naddress = "p.example:7233"\n')
    assert refused({"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "staging"}) == (
        f'TEMPORAL_PROFILE is "staging" but {config} has no profile "staging" (it has "prod"). Add'
        " [profile.staging] to the file, set TEMPORAL_PROFILE to an existing profile, or unset it."
    )
    typo = write(tmp_path, "typo.toml", '[profile.default]\nadress = "p.example:7233"\n')
    message = refused({"TEMPORAL_CONFIG_FILE": str(typo)})
    assert message.startswith(f"The Temporal config file {typo} is not usable:") and "`adress`" in message
    assert "cannot be read (No such file or directory)" in refused({"TEMPORAL_CONFIG_FILE": str(tmp_path / "none")})
    assert refused({"TEMPORAL_ADDRESS": "http://x:7233"}).startswith("TEMPORAL_ADDRESS must be host:port")
    assert refused({"TEMPORAL_TLS": "maybe"}) == 'TEMPORAL_TLS must be true or false (got "maybe").'
    cert = write(tmp_path, "c.pem", CERT_PEM)
    assert refused({"TEMPORAL_TLS_CLIENT_CERT_PATH": str(cert)}).startswith(
        "TEMPORAL_TLS_CLIENT_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH is not."
    )
    missing_ca = write(
        tmp_path, "ca.toml", f'[profile.default]\n[profile.default.tls]\nserver_ca_cert_path = "{tmp_path}/gone.pem"\n'
    )
    assert refused({"TEMPORAL_CONFIG_FILE": str(missing_ca)}).startswith(
        f'tls.server_ca_cert_path in profile "default" of {missing_ca} points to "{tmp_path}/gone.pem", which'
        " cannot be read (No such file or directory)."
    )
    assert "TEMPORAL_TLS is false" in refused({"TEMPORAL_TLS": "false", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(cert)})
