"""How a Lambda function version's code runs in-process in the emulator.

Two kinds of code:

* **Package code**: the control plane's own functions. Their asset is this repository's
  `functions/` directory, which the tests and the emulator import as-is, so the version's
  `Handler` string (`rollout.handlers.prepare.handler`) is resolved with importlib.
  Register them with :func:`register_package_function`.
* **Zip code**: every other function (the demo's sample function, test functions). The
  handler module is loaded from the version's own code zip as moto stores it, into a fresh
  module object cached by CodeSha256, so uploading new code changes behaviour as on AWS,
  and a published version keeps running the code it was published with.

The function's Timeout is enforced at the invocation's edges: an invocation that is past
its deadline is stopped at its next AWS call (before the call is made, or when the call
returns) or when its handler returns, and reports `Sandbox.Timedout` as Lambda does
(:class:`SandboxTimedOut`). Pure computation past the deadline is not interrupted; it has
no effect outside the process. A handler whose runtime dies (:class:`RuntimeExited`, raised
by fault injection) reports `Runtime.ExitError`.

What is not emulated: a zip handler module can only import modules that are importable in
this process (not sibling modules inside the zip).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import io
import linecache
import os
import threading
import time
import types
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[Any, Any], Any]

__all__ = [
    "Handler",
    "HandlerNotFound",
    "Invocation",
    "LambdaContext",
    "MalformedHandlerName",
    "RuntimeExited",
    "SandboxTimedOut",
    "ThreadEnviron",
    "clear_package_functions",
    "current_invocation",
    "invocation",
    "invocation_lock",
    "is_package_function",
    "lambda_environment",
    "load_package_handler",
    "load_zip_handler",
    "register_package_function",
    "unregister_package_function",
]

# The handlers' modules hold process-wide state (Powertools' Logger keys and metric set),
# and without a ThreadEnviron os.environ is process-global too: invocations are
# serialized. Re-entrant, because a handler may synchronously invoke another function (a
# pre-traffic hook, say) on the same thread.
invocation_lock = threading.RLock()

_registry_lock = threading.Lock()
_package_functions: set[str] = set()

_zip_cache_lock = threading.Lock()
_zip_handlers: dict[tuple[str, str], Handler] = {}


@dataclass
class LambdaContext:
    """The subset of the Lambda Python runtime's context object that handlers use.

    Powertools' ``Logger.inject_lambda_context`` reads ``function_name``,
    ``memory_limit_in_mb``, ``invoked_function_arn`` and ``aws_request_id``.
    """

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: float = 3.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"
        if not self.log_stream_name:
            day = time.strftime("%Y/%m/%d", time.gmtime())
            self.log_stream_name = f"{day}/[{self.function_version}]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def start_clock(self) -> None:
        """The invocation starts running now: its Timeout counts from here. (In-process
        invocations wait for one another; on AWS each runs at once in its own sandbox.)"""
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class SandboxTimedOut(BaseException):
    """The invocation ran past its function's Timeout: Lambda stops it there.

    A BaseException, so that the handler's own `except Exception` cannot swallow it, as
    nothing in a handler can survive Lambda stopping its sandbox.
    """

    def __init__(self, invocation: Invocation) -> None:
        super().__init__(f"Task timed out after {invocation.context.timeout_seconds:.2f} seconds")
        self.invocation = invocation


class RuntimeExited(BaseException):
    """The runtime process died mid-invocation (a crash, an out-of-memory kill, os._exit):
    nothing more of the handler runs. Raised by fault injection only."""

    def __init__(self, invocation: Invocation, status: str = "exit status 1") -> None:
        super().__init__(f"Runtime exited with error: {status}")
        self.invocation = invocation


@dataclass
class Invocation:
    """One in-process invocation: what the emulator knows of the sandbox running it."""

    function_name: str
    context: LambdaContext

    @property
    def request_id(self) -> str:
        return self.context.aws_request_id

    def timed_out(self) -> bool:
        return time.monotonic() >= self.context._deadline

    def expire(self) -> None:
        """Put the deadline in the past (a call that outlived the function's Timeout)."""
        self.context._deadline = time.monotonic()

    def elapse(self, seconds: float) -> None:
        """`seconds` of the invocation's time went by without the emulator sleeping them
        (an injected latency, compressed): its remaining time is that much shorter."""
        self.context._deadline -= max(0.0, seconds)

    def check_deadline(self) -> None:
        if self.timed_out():
            raise SandboxTimedOut(self)


_invocations = threading.local()


def current_invocation() -> Invocation | None:
    """The invocation whose handler runs on this thread (the innermost, when one handler
    invokes another synchronously), or None."""
    stack: list[Invocation] = getattr(_invocations, "stack", [])
    return stack[-1] if stack else None


@contextlib.contextmanager
def invocation(function_name: str, context: LambdaContext) -> Iterator[Invocation]:
    """Mark `function_name`'s handler as running on this thread for the duration."""
    current = Invocation(function_name, context)
    stack: list[Invocation] = getattr(_invocations, "stack", None) or []
    _invocations.stack = stack
    stack.append(current)
    try:
        yield current
    finally:
        stack.remove(current)


def register_package_function(function_name: str) -> None:
    """Run `function_name`'s versions from the importable package named by its Handler."""
    with _registry_lock:
        _package_functions.add(function_name)


def unregister_package_function(function_name: str) -> None:
    with _registry_lock:
        _package_functions.discard(function_name)


def is_package_function(function_name: str) -> bool:
    with _registry_lock:
        return function_name in _package_functions


def clear_package_functions() -> None:
    with _registry_lock:
        _package_functions.clear()


class MalformedHandlerName(Exception):
    """The Handler setting is not `<module path>.<function>`."""


class HandlerNotFound(Exception):
    """The handler module has no such callable."""


def _split_handler(handler: str) -> tuple[str, str]:
    module_name, sep, attribute = handler.rpartition(".")
    if not sep or not module_name or not attribute:
        raise MalformedHandlerName(
            f"Bad handler '{handler}': expected '<module path>.<function>', e.g. 'app.handler'"
        )
    return module_name, attribute


def load_package_handler(handler: str) -> Handler:
    """Import `rollout.handlers.prepare.handler` -> the callable, as the runtime would."""
    module_name, attribute = _split_handler(handler)
    module = importlib.import_module(module_name)
    function = getattr(module, attribute, None)
    if not callable(function):
        raise HandlerNotFound(f"Handler '{attribute}' missing on module '{module_name}'")
    return function  # type: ignore[no-any-return]


def load_zip_handler(code_zip: bytes, handler: str, code_sha256: str | None = None) -> Handler:
    """Load the handler out of a function version's code zip, cached by CodeSha256.

    `app.handler` -> `app.py` at the zip's root; `pkg.mod.handler` -> `pkg/mod.py`
    (or `pkg/mod/__init__.py`). The module is executed in a fresh module object that is
    not put in `sys.modules`, so two versions with different code never share state.
    """
    sha = code_sha256 or base64.b64encode(hashlib.sha256(code_zip).digest()).decode()
    key = (sha, handler)
    with _zip_cache_lock:
        cached = _zip_handlers.get(key)
    if cached is not None:
        return cached

    module_name, attribute = _split_handler(handler)
    module_path = module_name.replace(".", "/")
    with zipfile.ZipFile(io.BytesIO(code_zip)) as archive:
        names = set(archive.namelist())
        for candidate in (f"{module_path}.py", f"{module_path}/__init__.py"):
            if candidate in names:
                source = archive.read(candidate).decode("utf-8")
                break
        else:
            raise ImportError(
                f"Unable to import module '{module_name}': no {module_path}.py in the code zip"
            )

    module = types.ModuleType(f"_trafficshift_zip_{hashlib.sha256(sha.encode()).hexdigest()[:12]}")
    module.__file__ = f"<lambda code {sha}>/{candidate}"
    # Tracebacks (the error payload's stackTrace) show the zip's source lines.
    linecache.cache[module.__file__] = (len(source), None, source.splitlines(True), module.__file__)
    code = compile(source, module.__file__, "exec")
    exec(code, module.__dict__)  # noqa: S102 - this is what a Lambda runtime does with the code
    function = getattr(module, attribute, None)
    if not callable(function):
        raise HandlerNotFound(f"Handler '{attribute}' missing on module '{module_name}'")
    with _zip_cache_lock:
        _zip_handlers[key] = function
    return function  # type: ignore[no-any-return]


_DELETED = None  # a variable the invocation deleted from its own view


class ThreadEnviron(MutableMapping[str, str]):
    """`os.environ` where an invocation's variables are seen by its own thread only.

    On AWS every function runs in a sandbox of its own, with its own environment. In one
    process, applying a function's variables to the real environment (and taking them off
    afterwards) changes it under every other thread: a thread that iterates it meanwhile
    (botocore copies it when it builds a client, urllib reads the proxy variables) fails
    with KeyError. Here an invocation's variables are an overlay of its thread; writes
    and deletes inside an invocation go to the overlay; everything else is the real
    environment, which invocations leave untouched.
    """

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base
        self._local = threading.local()

    def _overlay(self) -> dict[str, str | None] | None:
        stack: list[dict[str, str | None]] = getattr(self._local, "stack", [])
        return stack[-1] if stack else None

    @contextlib.contextmanager
    def overlay(self, variables: Mapping[str, str]) -> Iterator[None]:
        """This thread sees `variables` over what it saw before, for the duration."""
        stack: list[dict[str, str | None]] = getattr(self._local, "stack", None) or []
        self._local.stack = stack
        layer: dict[str, str | None] = dict(stack[-1]) if stack else {}
        layer.update({name: str(value) for name, value in variables.items()})
        stack.append(layer)
        try:
            yield
        finally:
            stack.pop()

    def __getitem__(self, key: str) -> str:
        layer = self._overlay()
        if layer is not None and key in layer:
            value = layer[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        return self.base[key]

    def __setitem__(self, key: str, value: str) -> None:
        layer = self._overlay()
        if layer is None:
            self.base[key] = value
        else:
            layer[key] = str(value)

    def __delitem__(self, key: str) -> None:
        layer = self._overlay()
        if layer is None:
            del self.base[key]
        elif key not in self:
            raise KeyError(key)
        else:
            layer[key] = _DELETED

    def _keys(self) -> list[str]:
        layer = self._overlay() or {}
        keys = [key for key in list(self.base) if key not in layer]
        return keys + [key for key, value in layer.items() if value is not _DELETED]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def copy(self) -> dict[str, str]:
        return {key: self[key] for key in self._keys()}

    def __repr__(self) -> str:
        return f"ThreadEnviron({self.copy()!r})"


@contextlib.contextmanager
def lambda_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Apply `variables` to the environment this invocation sees, for the duration, holding
    the invocation lock: an overlay of this thread when `os.environ` is a
    :class:`ThreadEnviron` (the emulator installs one), else os.environ itself."""
    with invocation_lock:
        if isinstance(os.environ, ThreadEnviron):
            with os.environ.overlay(variables):
                yield
            return
        saved = {name: os.environ.get(name) for name in variables}
        os.environ.update({name: str(value) for name, value in variables.items()})
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
