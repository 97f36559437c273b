"""Hostile clients for scripts/soak: slowloris connections and malformed requests.

Usage: hostile.py slowloris HOST PORT CONNECTIONS SECONDS
       hostile.py garbage HOST PORT SECONDS
Prints one JSON object with what happened. Standard library only. For garbage, SOAK_KEY (an
API key) lets oversized bodies get past authentication to the body limit.
"""
import asyncio
import json
import os
import random
import re
import sys
import time


async def slowloris(host, port, connections, seconds):
    deadline = time.monotonic() + seconds
    stats = {"opened": 0, "cut_by_server": 0, "refused": 0, "held_at_end": 0, "longest_held_s": 0.0}

    async def one():
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                stats["refused"] += 1
                await asyncio.sleep(0.5)
                continue
            stats["opened"] += 1
            opened = time.monotonic()
            try:
                writer.write(b"GET / HTTP/1.1\r\nHost: soak\r\n")
                await writer.drain()
                while time.monotonic() < deadline:
                    # One header byte at a time, never finishing the head.
                    writer.write(b"X-Slow: y\r\n")
                    await writer.drain()
                    try:
                        await asyncio.wait_for(reader.read(1024), timeout=1.0)
                    except asyncio.TimeoutError:
                        continue
                    # EOF, or an answer (408/400) before closing: either way the server cut it.
                    stats["cut_by_server"] += 1
                    break
                else:
                    stats["held_at_end"] += 1
            except OSError:
                stats["cut_by_server"] += 1
            finally:
                stats["longest_held_s"] = max(stats["longest_held_s"], round(time.monotonic() - opened, 1))
                writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return stats


def garbage_requests():
    """Requests that are malformed, ambiguous or abusive; none may cause a 5xx."""
    big = str(2**63 - 1)
    legacy = lambda body: f'GET /v1/?input={body} HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n'.encode()
    key = os.environ.get("SOAK_KEY", "psk_none")
    case = '{"colors":5,"customers":3,"demands":[[1,1,1],[2,1,0,2,0],[1,5,0]]}'
    pipelined = (f"GET /v1/?input={case} HTTP/1.1\r\nHost: s\r\n\r\n" * 3
                 + f"GET /v1/?input={case} HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n").encode()
    choices = [
        lambda: pipelined,
        lambda: (f"POST /v2/solve HTTP/1.1\r\nHost: s\r\nAuthorization: Bearer {key}\r\n"
                 "Content-Length: 900000000\r\nConnection: close\r\n\r\n").encode() + b"{" * 1024,
        lambda: (f"POST /v2/solve HTTP/1.1\r\nHost: s\r\nAuthorization: Bearer {key}\r\n"
                 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
                + b"".join(b"10000\r\n" + b"[" * 65536 + b"\r\n" for _ in range(16)) + b"0\r\n\r\n",
        lambda: b"POST /v2/solve HTTP/1.1\r\nHost: s\r\nContent-Length: 900000000\r\n\r\n" + b"x" * 1024,
        lambda: bytes(random.getrandbits(8) for _ in range(random.randint(1, 300))),
        lambda: b"GET / HTTP/1.1\r\nHost: s\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        lambda: b"POST / HTTP/1.1\r\nHost: s\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        lambda: b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: s\r\n\r\n",
        lambda: b"GET / HTTP/1.1\r\nHost: s\r\nX-Big: " + b"b" * 200_000 + b"\r\n\r\n",
        lambda: b"POST /v2/solve HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        lambda: b"GET / HTTP/1.1\r\nHost: s\r\n folded: header\r\n\r\n",
        lambda: b"\r\n\r\nGET / HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
        lambda: legacy('{"colors":1,"customers":1,"demands":[[' + big + ',1,0]]}'),
        lambda: legacy('{"colors":' + big + ',"customers":1,"demands":[[1,1,0]]}'),
        lambda: legacy('{"colors":1,"customers":1,"demands":[[1,1,0]' * 50),
        lambda: legacy('[' * 5000),
        lambda: b"GET /v1/?input=%ff%fe HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n",
        lambda: b"GET / HTTP/1.1\r\nHost: s\r\nx-request-id: " + b"r" * 5000 + b"\r\nConnection: close\r\n\r\n",
        lambda: b"GET / HTTP/9.9\r\nHost: s\r\n\r\n",
    ]
    return random.choice(choices)()


async def garbage(host, port, seconds):
    deadline = time.monotonic() + seconds
    statuses = {}

    async def one():
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                statuses["connect-refused"] = statuses.get("connect-refused", 0) + 1
                await asyncio.sleep(0.1)
                continue
            answer = b""
            try:
                writer.write(garbage_requests())
                await writer.drain()
                # Every answer on the connection (pipelined requests get several), until the
                # server closes it; the header-read timeout bounds the wait on incomplete ones.
                while len(answer) < 1_000_000:
                    chunk = await asyncio.wait_for(reader.read(65536), timeout=15)
                    if not chunk:
                        break
                    answer += chunk
            except (OSError, asyncio.TimeoutError):
                pass
            finally:
                writer.close()
            found = re.findall(rb"HTTP/1\.[01] (\d{3}) ", answer)
            for status in found or [b"closed"]:
                status = status.decode()
                statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(one() for _ in range(8)))
    return {"statuses": dict(sorted(statuses.items()))}


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "slowloris":
        result = asyncio.run(slowloris(host, port, int(sys.argv[4]), float(sys.argv[5])))
    elif mode == "garbage":
        result = asyncio.run(garbage(host, port, float(sys.argv[4])))
    else:
        sys.exit("usage: hostile.py slowloris|garbage HOST PORT ...")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
