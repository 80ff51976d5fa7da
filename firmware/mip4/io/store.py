"""The home agent's binding store (issue 27): etcd, through its v3 JSON gateway, with the standard library.

Why no client library: etcd serves its v3 API as JSON over HTTP (the gRPC gateway, /v3/kv/range,
/v3/kv/txn, /v3/lease/grant, ...; keys and values base64), which urllib, json and base64 speak. The
home agent needs five calls of it; docs/redundancy.md says why that beats the PyPI clients.

Layout under `prefix` ("mip4/<i-ha|x-ha>/<home agent address>/" by default, so an i-HA pair and an
x-HA pair can share one cluster):
    binding/<home address>/<care-of>   a binding record (core/ha_store.py), JSON, under a lease of its
                                       granted lifetime (none for an infinite one): etcd expires it
    identification/<home address>      the last accepted identification (RFC 5944 5.7), 16 hex digits

BindingStore runs the calls on one worker thread (in order: a registration's write is done before its
reply goes out, since the driver awaits each action), each with a short timeout. When the store does
not answer, the home agent serves from memory: one error line, no more writes, a probe every
RETRY seconds; when it answers again, one line and the bindings in memory are written back.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..core.actions import ForgetBinding, StoreBinding
from ..core.bindings import Binding
from ..core.ha_store import INFINITE, Restored, to_record

TIMEOUT = 1.0  # seconds per HTTP call: a registration's reply waits for its write (at most this per member)
RETRY = 2.0  # seconds between probes of an unreachable store
MAX_OPS = 64  # operations per transaction (etcd's default limit is 128)
log = logging.getLogger("mip4.store")


class StoreUnreachable(OSError):
    """No endpoint answered (refused, timed out, or the cluster has no leader)."""


class StoreError(RuntimeError):
    """The cluster answered with an error (e.g. a lease that is gone)."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def _prefix_end(prefix: str) -> str:
    """etcd's range_end for every key starting with `prefix` (its last octet plus one)."""
    raw = prefix.encode()
    return base64.b64encode(raw[:-1] + bytes([raw[-1] + 1])).decode()


class EtcdClient:
    """Blocking calls to etcd's v3 JSON gateway; the endpoint that answered last is asked first."""

    def __init__(self, endpoints: tuple[str, ...], timeout: float = TIMEOUT) -> None:
        self.endpoints = list(endpoints)
        self.timeout = timeout

    def call(self, path: str, body: dict) -> dict:
        errors = []
        for url in list(self.endpoints):
            request = urllib.request.Request(url + "/v3/" + path, data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as r:
                    answer = json.loads(r.read())
            except urllib.error.HTTPError as e:
                message = _error_message(e)
                if e.code < 500:  # the cluster answered: asking another member would get the same
                    raise StoreError("%s: %s" % (path, message)) from None
                errors.append("%s: %s" % (url, message))  # 503 no leader, a member cut off: try another
                continue
            except (OSError, ValueError) as e:  # refused, timed out, reset; or not JSON (not etcd there)
                errors.append("%s: %s" % (url, getattr(e, "reason", None) or e))
                continue
            if url != self.endpoints[0]:  # stick to the one that answers
                self.endpoints.remove(url)
                self.endpoints.insert(0, url)
            return answer
        raise StoreUnreachable("; ".join(errors))

    # -- the calls the home agent makes --------------------------------------------------------

    def grant(self, ttl: int) -> str:
        return self.call("lease/grant", {"TTL": ttl})["ID"]

    def revoke(self, lease: str) -> None:
        try:
            self.call("lease/revoke", {"ID": lease})
        except StoreError:  # expired already
            pass

    def time_to_live(self, lease: str) -> tuple[int, int]:
        """Seconds the lease has left (-1: gone) and its granted TTL."""
        answer = self.call("lease/timetolive", {"ID": lease})
        return int(answer.get("TTL", -1)), int(answer.get("grantedTTL", 0))

    def keep_alive(self, lease: str) -> int:
        """Start the lease's TTL again (the leader alone: no raft write); its TTL, 0 when it is gone."""
        return int(self.call("lease/keepalive", {"ID": lease}).get("result", {}).get("TTL", 0))

    def txn(self, ops: list[dict]) -> None:
        for i in range(0, len(ops), MAX_OPS):
            self.call("kv/txn", {"success": ops[i:i + MAX_OPS]})

    def range(self, prefix: str) -> list[tuple[str, str, str]]:
        """(key, value, lease) of every key under `prefix`; lease "0" or "" for none."""
        answer = self.call("kv/range", {"key": _b64(prefix), "range_end": _prefix_end(prefix)})
        return [(_unb64(kv["key"]), _unb64(kv.get("value", "")), kv.get("lease", "0")) for kv in answer.get("kvs", [])]

    def probe(self, key: str) -> None:
        """A linearizable read: answered only by a cluster with a leader and quorum (a member's own status
        would answer without them)."""
        self.call("kv/range", {"key": _b64(key), "limit": 1})


def put(key: str, value: str, lease: str = "0") -> dict:
    return {"requestPut": {"key": _b64(key), "value": _b64(value), "lease": lease}}


def delete(key: str, prefix: bool = False) -> dict:
    op: dict[str, Any] = {"key": _b64(key)}
    if prefix:
        op["range_end"] = _prefix_end(key)
    return {"requestDeleteRange": op}


def _error_message(e: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(e.read())
        return body.get("message") or body.get("error") or str(body)
    except (OSError, ValueError):
        return "HTTP %d" % e.code


Snapshot = Callable[[], tuple[list[Binding], dict[str, int], float] | None]  # bindings, identifications, now


class BindingStore:
    """The home agent role's adapter for StoreBinding and ForgetBinding, and its `load` on activation.

    `snapshot` gives the bindings and last identifications in memory and the home agent's `now` (None
    while standby: nothing to write back) when the store answers again after an outage."""

    def __init__(self, endpoints: tuple[str, ...], prefix: str, snapshot: Snapshot,
                 timeout: float = TIMEOUT, retry: float = RETRY) -> None:
        self.client = EtcdClient(endpoints, timeout)
        self.prefix = prefix
        self.snapshot = snapshot
        self.retry = retry
        self.reachable = True
        self.leases: dict[str, str] = {}  # key -> its lease (touched on the worker thread only)
        self.granted: dict[str, int] = {}  # lease -> its granted TTL (worker thread only)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="mip4-store")
        self.prober: asyncio.Task | None = None
        self.counters = {"writes": 0, "unreachable": 0, "refused": 0}
        self.handlers: dict[type, Callable[[Any], Any]] = {StoreBinding: self.store_binding,
                                                           ForgetBinding: self.forget_binding}

    def binding_key(self, home_address: str, care_of: str = "") -> str:
        return "%sbinding/%s/%s" % (self.prefix, home_address, care_of)

    def identification_key(self, home_address: str) -> str:
        return "%sidentification/%s" % (self.prefix, home_address)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:  # noqa: ANN401
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # -- actions ---------------------------------------------------------------------------------

    async def store_binding(self, a: StoreBinding) -> None:
        await self._write(self._put, a.binding, a.replace)

    async def forget_binding(self, a: ForgetBinding) -> None:
        await self._write(self._forget, a.home_address, a.care_of, a.identification)

    async def _write(self, fn: Callable[..., None], *args: Any) -> None:  # noqa: ANN401
        if not self.reachable:
            return  # serving from memory; the probe writes memory back when the store answers
        try:
            await self._run(fn, *args)
            self.counters["writes"] += 1
        except StoreUnreachable as e:
            self._down(e)
        except StoreError as e:  # the cluster answered, and refused: this write is lost, the next may pass
            self.counters["refused"] += 1
            log.error("binding store refused a write: %s", e)

    def _put(self, b: Binding, replace: bool, ttl: int | None = None) -> None:
        """On the worker thread: the binding under a lease of its lifetime (or of `ttl`, the seconds it has
        left, on a write-back), and its identification; with `replace`, the home address's other care-of
        bindings deleted in the same transaction (etcd refuses a range delete over a key the transaction
        puts: they are deleted one by one, as we know them)."""
        key = self.binding_key(b.home_address, b.care_of)
        old = self.leases.get(key, "0")
        if b.lifetime == INFINITE:
            lease = "0"
        elif ttl is None and old != "0" and self.granted.get(old) == b.lifetime and self.client.keep_alive(old) > 0:
            lease = old  # a refresh: its lease starts again (one raft write less than a new one, and no revoke)
        else:
            lease = self.client.grant(ttl or b.lifetime)
            self.granted[lease] = ttl or b.lifetime
        others = [k for k in self._keys_of(b.home_address) if k != key] if replace else []
        self.client.txn([delete(k) for k in others] + [
            put(key, json.dumps(to_record(b)), lease),
            put(self.identification_key(b.home_address), "%016x" % b.identification)])
        self._forget_leases(others + ([key] if old != lease else []))  # the key is on its new lease now
        self.leases[key] = lease

    def _forget(self, home_address: str, care_of: str | None, identification: int) -> None:
        key = self.binding_key(home_address, care_of or "")
        self.client.txn([delete(key, prefix=care_of is None),
                         put(self.identification_key(home_address), "%016x" % identification)])
        self._forget_leases(self._keys_of(home_address) if care_of is None else [key])

    def _keys_of(self, home_address: str) -> list[str]:
        """The binding keys of `home_address` we know of (written here, or read on becoming active)."""
        return [k for k in self.leases if k.startswith(self.binding_key(home_address))]

    def _forget_leases(self, keys: list[str]) -> None:
        for k in keys:
            lease = self.leases.pop(k, None)
            if lease not in (None, "0"):
                self.granted.pop(lease, None)
                self.client.revoke(lease)

    # -- becoming active -------------------------------------------------------------------------

    async def load(self) -> Restored:
        """What the store holds now (Restored.reachable False when it does not answer)."""
        try:
            restored = await self._run(self._load)
        except (StoreUnreachable, StoreError) as e:
            self._down(e)
            return Restored(reachable=False)
        if not self.reachable:
            self._up("read on becoming active")
        return restored

    def _load(self) -> Restored:
        bindings: list[tuple[object, float | None]] = []
        self.leases.clear()
        self.granted.clear()
        left: dict[str, int] = {}
        for key, value, lease in self.client.range(self.prefix + "binding/"):
            try:
                record = json.loads(value)
            except ValueError:
                record = value  # core/ha_store.py refuses it, with a log line
            if lease in ("0", ""):
                bindings.append((record, None))
                self.leases[key] = "0"
                continue
            if lease not in left:
                left[lease], self.granted[lease] = self.client.time_to_live(lease)
            if left[lease] > 0:  # -1: expired between the range and now
                bindings.append((record, float(left[lease])))
                self.leases[key] = lease
        identifications: dict[str, int] = {}
        ident_prefix = self.prefix + "identification/"
        for key, value, _ in self.client.range(ident_prefix):
            try:
                identifications[key[len(ident_prefix):]] = int(value, 16)
            except ValueError:
                log.error("binding store: %s holds %r, not an identification: skipped", key, value)
        return Restored(bindings, identifications)

    # -- unreachable, and back -------------------------------------------------------------------

    def _down(self, e: Exception) -> None:
        if not self.reachable:
            return
        self.reachable = False
        self.counters["unreachable"] += 1
        log.error("binding store unreachable (%s): serving from memory; no bindings are written until it "
                  "answers again (probed every %g s)", e, self.retry)
        if self.prober is None or self.prober.done():
            self.prober = asyncio.get_running_loop().create_task(self._probe())

    def _up(self, how: str) -> None:
        self.reachable = True
        log.info("binding store reachable again (%s)", how)

    async def _probe(self) -> None:
        while not self.reachable:
            await asyncio.sleep(self.retry)
            try:
                await self._run(self.client.probe, self.prefix)
            except (StoreUnreachable, StoreError):
                continue
            memory = self.snapshot()
            self.reachable = True  # writes from here on queue behind the write-back on the worker thread
            if memory is None:
                self._up("standby: nothing to write back")
                continue
            try:
                await self._run(self._write_back, *memory)
            except (StoreUnreachable, StoreError) as e:
                self._down(e)  # reachable again False: the loop probes on
                continue
            self._up("%d binding(s) and %d identification(s) in memory written back" % (len(memory[0]),
                                                                                            len(memory[1])))

    def _write_back(self, bindings: list[Binding], identifications: dict[str, int], now: float) -> None:
        """Our bindings and identifications put again: for each home address we have bindings of, every
        binding the store holds for it goes first (ours are the newest; the other home agent's, written
        while we could not read them, would come back as a second care-of), and the bindings we knew of home
        addresses we have none of now (deregistered, expired during the outage) are deleted. Home addresses
        we neither have nor knew of are left alone."""
        mine = sorted({b.home_address for b in bindings})
        prefix = len(self.prefix + "binding/")
        gone = [k for k in self.leases if k[prefix:].split("/")[0] not in mine]
        self.client.txn([delete(self.binding_key(h), prefix=True) for h in mine] + [delete(k) for k in gone])
        self._forget_leases(list(self.leases))  # every key we knew of is deleted now
        for b in bindings:  # each lease of the time its binding has left, not a whole lifetime again
            self._put(b, replace=False, ttl=max(1, math.ceil(b.remaining(now))))
        self.client.txn([put(self.identification_key(h), "%016x" % i) for h, i in identifications.items()])

    def status(self) -> dict:
        return {"endpoints": self.client.endpoints, "prefix": self.prefix, "reachable": self.reachable,
                **self.counters}

    def close(self) -> None:
        if self.prober is not None:
            self.prober.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)
