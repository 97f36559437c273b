"""Hostile clients for scripts/soak: slowloris connections and malformed requests.

Usage: hostile.py slowloris HOST PORT CONNECTIONS SECONDS
       hostile.py garbage HOST PORT SECONDS
Prints one JSON object with what happened. Standard library only.
"""
import asyncio
import json
import random
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
    choices = [
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
        lambda: b"GET /v2/history HTTP/1.1\r\nHost: s\r\nAuthorization: Bearer psk_guess\r\nConnection: close\r\n\r\n",
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
            try:
                writer.write(garbage_requests())
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), timeout=15)
                parts = line.split()
                status = parts[1].decode() if len(parts) > 1 else "closed"
            except (OSError, asyncio.TimeoutError, UnicodeDecodeError):
                status = "closed"
            finally:
                writer.close()
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
