"""A TCP relay for outage benchmarks, bound to 127.0.0.1: forwards to a target while the mode
file says `pass`; `cut` closes every connection and refuses new ones (a dead server); `hole`
keeps connections open and accepts new ones but forwards nothing (a black-holed server).

    python3 bench/relay.py LISTEN_PORT TARGET_HOST:TARGET_PORT MODE_FILE
"""
import asyncio
import sys

listen_port, target, mode_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
host, port = target.rsplit(":", 1)
writers = set()


def mode():
    try:
        with open(mode_file) as f:
            return f.read().strip() or "pass"
    except OSError:
        return "pass"


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            while mode() == "hole":
                await asyncio.sleep(0.05)
            if mode() == "cut":
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(reader, writer):
    if mode() == "cut":
        writer.close()
        return
    while mode() == "hole":
        await asyncio.sleep(0.05)
    try:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        writer.close()
        return
    writers.update((writer, up_writer))
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def cutter():
    # A cut also drops the connections that are open.
    while True:
        await asyncio.sleep(0.05)
        if mode() == "cut":
            for w in list(writers):
                w.close()
            writers.clear()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, backlog=1024)
    async with server:
        await asyncio.gather(server.serve_forever(), cutter())


asyncio.run(main())
