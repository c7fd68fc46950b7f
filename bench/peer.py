#!/usr/bin/env python3
"""Calibrates issue 9's throughput targets to the machine this runs on.

Issue 9 took its targets from Python peers measured on a faster machine: cryptofeed 2.4.1 at about
240,000 Binance liquidation frames/s on one core (280,000 Bybit, 176,000 OKX) and a plain
`json.loads` bot at about 315,000. This measures the same peers here, on 200,000 frames per venue
built from tests/fixtures with time and price varied per frame, median of 5 runs.

    python3 bench/peer.py                  # the json.loads bot only (stdlib)
    /tmp/peervenv/bin/python bench/peer.py # and cryptofeed, if it imports:
                                           #   python3 -m venv /tmp/peervenv
                                           #   /tmp/peervenv/bin/pip install cryptofeed==2.4.1

cryptofeed runs without network: its symbol tables are filled in by hand and its own handlers are
fed the frames in the shape cryptofeed 2.4.1 reads them. Binance: its combined-stream wrapper.
Bybit: the legacy `liquidation.{symbol}` topic (2.4.1 ignores `allLiquidation.*`, what Bybit sends
today). OKX: 2.4.1 does not parse the websocket `liquidation-orders` channel (it routes it to its
private order handler); it polls the REST endpoint, whose reply has the same `data` list, so its
polling loop is driven with a stand-in HTTP connection that returns one frame per poll.
"""
import json
import statistics
import time
from pathlib import Path

N, RUNS = 200_000, 5
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
ISSUE_JSON_LOADS_BINANCE = 315_000
FIXTURE = {"binance": "binance/long_liquidated.json", "bybit": "bybit/long_liquidated.json", "okx": "okx/hedge_long.json"}
OKX_CT_VAL = {"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1, "IOST-USDT-SWAP": 1000}  # from /api/v5/public/instruments


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def frames(venue):
    """(frames as the venue sends them, the same frames as cryptofeed 2.4.1 reads them)."""
    f = json.loads((FIXTURES / FIXTURE[venue]).read_text())
    wire, cf = [], []
    for i in range(N):
        step, dt = (i % 500) * 0.5, i * 250
        if venue == "binance":
            o = dict(f["o"], T=f["o"]["T"] + dt, ap=f"{39021 + step:.2f}")
            frame = dict(f, E=f["E"] + dt, o=o)
            wire.append(dumps(frame))
            cf.append(dumps({"stream": o["s"].lower() + "@forceOrder", "data": frame}))
        elif venue == "bybit":
            d = dict(f["data"][0], T=f["data"][0]["T"] + dt, p=f"{2500.5 + step:.2f}")
            wire.append(dumps(dict(f, ts=f["ts"] + dt, data=[d])))
            legacy = {"updatedTime": d["T"], "symbol": d["s"], "side": d["S"], "size": d["v"], "price": d["p"]}
            cf.append(dumps({"topic": "liquidation." + d["s"], "type": "snapshot", "ts": f["ts"] + dt, "data": legacy}))
        else:
            d = f["data"][0]
            x = dict(d["details"][0], ts=str(int(d["details"][0]["ts"]) + dt), bkPx=f"{60000.5 + step:.1f}")
            data = [dict(d, details=[x])]
            wire.append(dumps(dict(f, data=data)))
            cf.append(dumps({"code": "0", "msg": "", "data": data}))
    return wire, cf


# A plain json.loads bot: parse, pick symbol, side and USD size, add it up per (symbol, side).
def bot_binance(frames):
    usd = {}
    for raw in frames:
        o = json.loads(raw)["o"]
        key = (o["s"], o["S"])
        usd[key] = usd.get(key, 0.0) + float(o["z"]) * float(o["ap"])
    return usd


def bot_bybit(frames):
    usd = {}
    for raw in frames:
        for d in json.loads(raw)["data"]:
            key = (d["s"], d["S"])
            usd[key] = usd.get(key, 0.0) + float(d["v"]) * float(d["p"])
    return usd


def bot_okx(frames):
    usd = {}
    for raw in frames:
        for d in json.loads(raw)["data"]:
            ct_val = OKX_CT_VAL[d["instId"]]
            for x in d["details"]:
                key = (d["instId"], x["side"])
                usd[key] = usd.get(key, 0.0) + float(x["sz"]) * ct_val * float(x["bkPx"])
    return usd


def rate(run, frames):
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run(frames)
        times.append(time.perf_counter() - start)
    return len(frames) / statistics.median(times)


try:
    import asyncio
    import types
    from cryptofeed.defines import LIQUIDATIONS
    from cryptofeed.exchanges import OKX, BinanceFutures, Bybit
    import cryptofeed.exchanges.okx as cf_okx_module
    from cryptofeed.symbols import Symbols
except ImportError:
    cryptofeed_runs = None
else:
    class PollsDone(Exception):
        pass

    class Replay:
        """Stands in for cryptofeed's HTTP connection: each poll gets the next frame."""
        def __init__(self, frames):
            self.frames = iter(frames)

        async def read(self, address, **_):
            try:
                return next(self.frames)
            except StopIteration:
                raise PollsDone from None

    async def no_sleep(_):
        pass

    cf_okx_module.asyncio = types.SimpleNamespace(sleep=no_sleep)  # its poll loop waits 60 s per round

    def feed(cls, symbols):
        Symbols.set(cls.id, symbols, {})  # instead of fetching the instrument list over HTTP
        usd = {}

        async def on_liquidation(liq, receipt_timestamp):
            key = (liq.symbol, liq.side)
            usd[key] = usd.get(key, 0) + liq.quantity * liq.price
        return cls(callbacks={LIQUIDATIONS: on_liquidation})

    def websocket_run(cls, symbols, address=None):
        conn = types.SimpleNamespace(address=address, uuid="bench")

        async def run(frames):
            f = feed(cls, symbols)
            for raw in frames:
                await f.message_handler(raw, conn, 0.0)
        return lambda frames: asyncio.run(run(frames))

    def okx_run(frames):
        async def run():
            f = feed(OKX, {"BTC-USDT-PERP": "BTC-USDT-SWAP"})
            f.http_conn = Replay(frames)
            try:
                await f._liquidations(["BTC-USDT-SWAP"])
            except PollsDone:
                pass
        asyncio.run(run())

    cryptofeed_runs = {
        "binance": websocket_run(BinanceFutures, {"BTC-USDT-PERP": "BTCUSDT"}),
        "bybit": websocket_run(Bybit, {"ETH-USDT-PERP": "ETHUSDT"}, "wss://stream.bybit.com/v5/public/linear"),
        "okx": okx_run,
    }


if __name__ == "__main__":
    bots = {"binance": bot_binance, "bybit": bot_bybit, "okx": bot_okx}
    for venue, bot in bots.items():
        wire, cf = frames(venue)
        bot_rate = rate(bot, wire)
        line = f"{venue:8} json.loads bot {bot_rate:.0f} frames/s"
        if cryptofeed_runs:
            line += f"; cryptofeed 2.4.1 {rate(cryptofeed_runs[venue], cf):.0f} frames/s"
        else:
            line += "; cryptofeed 2.4.1 not importable, skipped"
        print(line, flush=True)
        if venue == "binance":
            scale = bot_rate / ISSUE_JSON_LOADS_BINANCE
    print(f"this machine runs the json.loads bot at {scale:.2f}x the speed the issue's targets were measured at")
