"""The Python training worker process: `python -m remedy_worker.worker`.

  TEMPORAL_*                 Temporal's own settings, read as the Node processes and the `temporal` CLI read them
                            (temporal_config.py): TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE (a TOML profile),
                            TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE (default 'default'),
                            TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_* certificates, TEMPORAL_GRPC_META_*
  REMEDY_PYTHON_TASK_QUEUE  the training task queue it polls (default 'remedy-training-python')
  DATABASE_URL              Remedy's Postgres (required: training sets, checkpoints and ONNX files)
  REMEDY_CODEC_KEYS         payload encryption keys, as the Node processes use (optional)

Prints one JSON line {"msg":"python worker ready","taskQueue":...} on stdout once it is polling, and
shuts down gracefully on SIGTERM or SIGINT (a running training is cancelled between stages, its last
checkpoint kept for the retry).
"""

import asyncio
import json
import os
import signal
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

from .activities import TrainingActivities
from .codec import CodecKeyError, data_converter_from_env
from .model import model_builder
from .temporal_config import TemporalConfigError, TemporalSettings, load_temporal_settings

# How long a running training gets to finish its stage after SIGTERM before it is cancelled.
GRACEFUL_SHUTDOWN = timedelta(seconds=5)
READY_TIMEOUT_SECONDS = 60.0


class StartupError(Exception):
    pass


def warn(message: str) -> None:
    sys.stderr.write(f"remedy python worker: warning: {message}\n")


def settings(env: dict[str, str]) -> dict:
    database_url = env.get("DATABASE_URL", "").strip()
    if not database_url:
        raise StartupError(
            "DATABASE_URL is not set: the Python worker reads training sets from and writes models to"
            " Remedy's Postgres; set DATABASE_URL to the same URL the Node worker uses"
        )
    try:
        temporal = load_temporal_settings(env, warn)
    except TemporalConfigError as err:
        raise StartupError(str(err)) from None
    return {
        "temporal": temporal,
        "task_queue": env.get("REMEDY_PYTHON_TASK_QUEUE", "").strip() or "remedy-training-python",
        "database_url": database_url,
    }


def check_database(url: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.execute("SELECT 1 FROM model_blobs LIMIT 0")
    except psycopg.errors.UndefinedTable:
        raise StartupError("the database has no model_blobs table: run Remedy's migrations first") from None
    except psycopg.Error as err:
        raise StartupError(f"cannot reach the database at DATABASE_URL: {str(err).strip()}") from None


async def wait_until_polling(client: Client, namespace: str, task_queue: str, identity: str) -> None:
    """Returns once the server lists this worker among the task queue's activity pollers."""
    request = DescribeTaskQueueRequest(
        namespace=namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    )
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        response = await client.workflow_service.describe_task_queue(request)
        if any(p.identity == identity for p in response.pollers):
            return
        await asyncio.sleep(0.1)
    raise StartupError(f"the worker did not start polling {task_queue} within {READY_TIMEOUT_SECONDS:.0f} s")


def where(temporal: TemporalSettings) -> str:
    """Where the address came from, for a connection error."""
    if temporal.address_from == "profile":
        return f"profile {json.dumps(temporal.profile)} of {temporal.config_file}"
    if temporal.address_from == "environment":
        return "TEMPORAL_ADDRESS"
    return "the default: set TEMPORAL_ADDRESS or TEMPORAL_PROFILE"


async def run(cfg: dict) -> None:
    identity = f"remedy-python-{os.getpid()}@{socket.gethostname()}"
    temporal: TemporalSettings = cfg["temporal"]
    try:
        client = await Client.connect(
            **temporal.connect_args,
            identity=identity,
            data_converter=data_converter_from_env(),
        )
    except RuntimeError as err:
        tls = "with TLS" if temporal.tls else "without TLS"
        raise StartupError(
            f"cannot connect to Temporal at {temporal.address} ({where(temporal)}; {tls}): {err}"
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        _, builder = model_builder()
    except ValueError as err:
        raise StartupError(str(err)) from None
    activities = TrainingActivities(cfg["database_url"])
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="training") as executor:
        worker = Worker(
            client,
            task_queue=cfg["task_queue"],
            activities=[activities.train_python_candidate],
            activity_executor=executor,
            max_concurrent_activities=2,
            graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        )
        async with worker:
            await wait_until_polling(client, temporal.namespace, cfg["task_queue"], identity)
            ready = {
                "msg": "python worker ready",
                "taskQueue": cfg["task_queue"],
                "model": builder,
                "address": temporal.address,
                "namespace": temporal.namespace,
            }
            print(json.dumps(ready), flush=True)
            await stop.wait()
            sys.stderr.write(f"remedy python worker: stopping (polling {cfg['task_queue']} ends)\n")


def main() -> int:
    try:
        cfg = settings(dict(os.environ))
        check_database(cfg["database_url"])
        asyncio.run(run(cfg))
    except (StartupError, CodecKeyError) as err:
        sys.stderr.write(f"remedy python worker: {err}\n")
        return 2
    return 0


def exit_now(code: int) -> None:
    """Ends the process once the worker has shut down gracefully, without the interpreter's finalization:
    the native threads of the Temporal core and onnxruntime can abort the process (SIGABRT) while Python
    tears down the modules they call back into, which turned a clean SIGTERM shutdown into a crash."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
