"""The Python worker's Temporal connection settings, read the way the Node processes read them (infra/config.ts):
Temporal's own names, through the SDK's `temporalio.envconfig`.

  TEMPORAL_CONFIG_FILE   a TOML file of profiles (default: temporal.toml in the user's config directory,
                         e.g. ~/.config/temporalio/temporal.toml; no file there is fine)
  TEMPORAL_PROFILE       the profile to use; must exist in the file ("default" when the file has one)
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_SERVER_CA_CERT_PATH,
  TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH (and their _DATA forms), TEMPORAL_TLS_SERVER_NAME,
  TEMPORAL_GRPC_META_<NAME>: override the profile's values.

The deprecated TEMPORAL_TLS_CA_PATH, TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH are still read, with one
warning each. An API key turns TLS on unless TEMPORAL_TLS (or the profile) switches it off.
"""

import dataclasses
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from temporalio.envconfig import ClientConfig, ClientConfigProfile, ClientConfigTLS

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"

DEPRECATED_NAMES: tuple[tuple[str, str], ...] = (
    ("TEMPORAL_TLS_CA_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
    ("TEMPORAL_TLS_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_PATH"),
    ("TEMPORAL_TLS_KEY_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH"),
)

_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$")
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class TemporalConfigError(Exception):
    """A bad setting: the message names the variable, file or profile key, and what to do."""


@dataclasses.dataclass(frozen=True)
class TemporalSettings:
    """Where the worker connects; `connect_args` are keyword arguments of `Client.connect`."""

    address: str
    namespace: str
    connect_args: dict[str, Any]
    address_from: str
    profile: str | None = None
    config_file: str | None = None

    @property
    def tls(self) -> bool:
        tls = self.connect_args.get("tls", False)
        return tls is not False


def _shown(value: object) -> str:
    return json.dumps(value)


def _is_host_port(value: str) -> bool:
    match = _HOST_PORT.match(value)
    return match is not None and 1 <= int(match.group(1)) <= 65535


def config_file_path(env: Mapping[str, str]) -> Path | None:
    """The config file Temporal's tools read, found the way envconfig finds it (Linux and macOS layouts)."""
    explicit = env.get("TEMPORAL_CONFIG_FILE", "").strip()
    if explicit:
        return Path(explicit).resolve()
    home = env.get("HOME", "").strip()
    if sys.platform == "darwin":
        return Path(home, "Library", "Application Support", "temporalio", "temporal.toml") if home else None
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    if xdg:
        return Path(xdg, "temporalio", "temporal.toml") if os.path.isabs(xdg) else None
    return Path(home, ".config", "temporalio", "temporal.toml") if home else None


def _standard_env(env: Mapping[str, str], warn: Callable[[str], None]) -> tuple[dict[str, str], dict[str, str]]:
    """Blank values dropped, deprecated names moved to the standard ones (one warning each), TEMPORAL_TLS
    checked. Returns the environment and, for each standard name set through an old one, the old name."""
    out = {k: v for k, v in env.items() if v.strip() != ""}
    set_as: dict[str, str] = {}
    for old, current in DEPRECATED_NAMES:
        value = out.pop(old, None)
        if value is None:
            continue
        if current in out:
            warn(f"{old} is deprecated and ignored because {current} is set: unset {old}.")
        else:
            warn(
                f"{old} is deprecated: rename it to {current} (same meaning; Temporal's CLI and SDKs read that name)."
            )
            out[current] = value
            set_as[current] = old
    flag = out.get("TEMPORAL_TLS")
    if flag is not None:
        parsed = _FLAGS.get(flag.strip().lower())
        if parsed is None:
            raise TemporalConfigError(f"TEMPORAL_TLS must be true or false (got {_shown(flag)}).")
        # envconfig reads "true" and "false"; Remedy has always taken 1/0 and yes/no too.
        out["TEMPORAL_TLS"] = "true" if parsed else "false"
    for name in ("TEMPORAL_PROFILE", "TEMPORAL_NAMESPACE"):
        value = out.get(name)
        if value is not None and not re.fullmatch(r"\S+", value.strip()):
            raise TemporalConfigError(f"{name} must be a name without spaces (got {_shown(value)}).")
    return out, set_as


def _parse_error(message: str) -> str:
    """The bridge's TOML error in one line: where, then what (without the quoted source lines)."""
    lines = [line.strip() for line in message.replace("Configuration loading error: ", "").splitlines()]
    kept = [line for line in lines if line and not re.match(r"^(\d+\s*)?\|", line) and line.strip("^ ") != ""]
    return ": ".join(kept)


def _read_profile_file(env: Mapping[str, str]) -> tuple[Path, bytes, ClientConfig] | None:
    path = config_file_path(env)
    if path is None:
        return None
    explicit = "TEMPORAL_CONFIG_FILE" in env
    try:
        data = path.read_bytes()
    except OSError as err:
        if isinstance(err, FileNotFoundError) and not explicit:
            return None
        reason = err.strerror or type(err).__name__
        raise TemporalConfigError(
            f"TEMPORAL_CONFIG_FILE points to {_shown(str(path))}, which cannot be read ({reason}). Set it to a"
            " Temporal config file (TOML with [profile.<name>] tables), or unset it."
        ) from None
    try:
        config = ClientConfig.load(config_source=data, config_file_strict=True)
    except Exception as err:  # the SDK's bridge raises its own ConfigError type
        why = _parse_error(str(err))
        raise TemporalConfigError(
            f"The Temporal config file {path} is not usable: {why}. A profile holds address, namespace, api_key,"
            " tls, codec and grpc_meta (see docs/operations.md); fix the file, or point TEMPORAL_CONFIG_FILE"
            " elsewhere."
        ) from None
    return path, data, config


def _choose_profile(env: Mapping[str, str], file: tuple[Path, bytes, ClientConfig] | None) -> str | None:
    wanted = env.get("TEMPORAL_PROFILE", "").strip() or None
    names = list(file[2].profiles) if file else []
    if wanted is None:
        return "default" if "default" in names else None
    if wanted in names:
        return wanted
    if file:
        has = ", ".join(_shown(n) for n in names) if names else None
        where = f"{file[0]} has no profile {_shown(wanted)} ({f'it has {has}' if has else 'it has none'})"
    else:
        where = f"there is no Temporal config file (looked for {config_file_path(env) or 'TEMPORAL_CONFIG_FILE'})"
    raise TemporalConfigError(
        f"TEMPORAL_PROFILE is {_shown(wanted)} but {where}. Add [profile.{wanted}] to the file, set"
        " TEMPORAL_PROFILE to an existing profile, or unset it."
    )


def _check_tls(tls: ClientConfigTLS | None, source: Callable[[str, str], str], issues: list[str]) -> bool:
    """Checks the profile's TLS material (every file readable, cert and key together); True when TLS is
    configured by a certificate or a server name."""
    if tls is None:
        return False
    cert_from = source("TEMPORAL_TLS_CLIENT_CERT_PATH", "tls.client_cert_path")
    key_from = source("TEMPORAL_TLS_CLIENT_KEY_PATH", "tls.client_key_path")
    if (tls.client_cert is None) != (tls.client_private_key is None):
        given, missing = (cert_from, key_from) if tls.client_cert is not None else (key_from, cert_from)
        issues.append(
            f"{given} is set but {missing} is not. Set both (the client certificate and its private key) for"
            " mTLS, or neither."
        )
    files = (
        (tls.server_root_ca_cert, source("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "tls.server_ca_cert_path"),
         "the server's CA certificate"),
        (tls.client_cert, cert_from, "the client certificate"),
        (tls.client_private_key, key_from, "the client certificate's private key"),
    )
    for src, from_, what in files:
        if isinstance(src, Path):
            try:
                src.read_bytes()
            except OSError as err:
                reason = err.strerror or type(err).__name__
                issues.append(
                    f"{from_} points to {_shown(str(src))}, which cannot be read ({reason}). Set it to the PEM"
                    f" file of {what}, or unset it."
                )
    has_files = tls.server_root_ca_cert is not None or tls.client_cert is not None
    if tls.disabled is True and has_files:
        issues.append(
            "TEMPORAL_TLS is false (or the profile disables TLS) but TLS certificates are set. Unset TEMPORAL_TLS,"
            " or unset the TEMPORAL_TLS_* certificate variables."
        )
    return has_files or tls.server_name is not None


def load_temporal_settings(
    env: Mapping[str, str], warn: Callable[[str], None] = lambda m: sys.stderr.write(f"warning: {m}\n")
) -> TemporalSettings:
    """The standard TEMPORAL_* variables over the selected profile of Temporal's config file, over local
    defaults (localhost:7233, namespace "default"). Raises TemporalConfigError naming the bad setting."""
    std, set_as = _standard_env(env, warn)
    file = _read_profile_file(std)
    profile_name = _choose_profile(std, file)
    try:
        profile = ClientConfigProfile.load(
            profile_name,
            config_source=file[1] if file and profile_name else None,
            disable_file=profile_name is None,
            config_file_strict=True,
            override_env_vars=std,
        )
    except Exception as err:  # the bridge's ConfigError, e.g. a TEMPORAL_GRPC_META_ value it refuses
        raise TemporalConfigError(f"The Temporal settings are not usable: {err}") from None

    def source(variable: str, key: str) -> str:
        if variable in std:
            return set_as.get(variable, variable)
        if profile_name is not None and file:
            return f"{key} in profile {_shown(profile_name)} of {file[0]}"
        return variable

    issues: list[str] = []
    address = (profile.address or "").strip() or None
    if address is not None and not _is_host_port(address):
        where = source("TEMPORAL_ADDRESS", "address")
        issues.append(
            f"{where} must be host:port (got {_shown(address)}). Set it to the Temporal frontend address, e.g."
            f" {DEFAULT_ADDRESS}."
        )
    namespace = (profile.namespace or "").strip() or None
    if namespace is not None and not re.fullmatch(r"\S+", namespace):
        where = source("TEMPORAL_NAMESPACE", "namespace")
        issues.append(f"{where} must be a namespace name without spaces (got {_shown(namespace)}).")
    tls_configured = _check_tls(profile.tls, source, issues)
    if issues:
        raise TemporalConfigError("\n  ".join(issues))

    # An empty TLS table says nothing: TLS stays off unless an API key or TEMPORAL_TLS turns it on, as in Node.
    if profile.tls is not None and profile.tls.disabled is None and not tls_configured:
        profile = dataclasses.replace(profile, tls=None)
    api_key = (profile.api_key or "").strip() or None
    profile = dataclasses.replace(profile, address=address, namespace=namespace, api_key=api_key)
    connect_args: dict[str, Any] = dict(profile.to_client_connect_config())
    connect_args.setdefault("target_host", DEFAULT_ADDRESS)
    connect_args.setdefault("namespace", DEFAULT_NAMESPACE)
    connect_args.setdefault("tls", False)
    return TemporalSettings(
        address=connect_args["target_host"],
        namespace=connect_args["namespace"],
        connect_args=connect_args,
        address_from="environment" if "TEMPORAL_ADDRESS" in std else "profile" if address else "default",
        profile=profile_name,
        config_file=str(file[0]) if file and profile_name else None,
    )
