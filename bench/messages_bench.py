"""Messages the bot sends per appeal filed (issue 8: today 5, target <= 3), counted, not timed.

    .venv/bin/python -m bench.messages_bench
    .venv/bin/python bench/messages_bench.py --tree /tmp/base      # another checkout's flow

The real Application (``tests.harness``: the recording fake Bot API, the outbox drained after every
update). A resident opens the building's deep link (``/start ap_<building>``, what the group's
"write to me privately" button sends) and then does what the bot asks, like a person would: presses
a filing button (``f:`` callback data first, else the first button) when the bot's last message has
buttons, else types the description, until the appeal exists and its unit head has the card. Counted:
every call that puts a message in a chat (send*, copyMessage, forwardMessage: what Telegram's limits
count), from the deep link to the card, per recipient; edits of earlier messages are shown apart.
The flow's steps are printed, so a changed flow is seen, not guessed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = 3


def counts_as_message(method: str) -> bool:
    return method.startswith(("send", "copyMessage", "forwardMessage")) and method != "sendChatAction"


async def run(appeals: int) -> None:
    from bot.app import open_storage
    from tests.harness import local, make_harness
    from tests.support import updates

    with tempfile.TemporaryDirectory() as tmp:
        h, app = await make_harness(Path(tmp), local(2026, 11, 23, 10, 0))
        async with app:
            await open_storage(app)
            try:
                await h.setup_community()
                building = (await h.services.registry.chat_context(h.p.building_chat["id"])).building.id
                totals: list[int] = []
                for n in range(appeals):
                    who = updates.user(6_000_000 + n, f"Res{n}")
                    chat = updates.private_chat(who)
                    since = len(h.rt.calls)
                    steps = [f"/start ap_{building}"]
                    calls = await h.send(updates.command(who, chat, "start", f"ap_{building}"))
                    for _ in range(8):
                        async with h.services.db.read() as tx:
                            filed = await tx.fetchval(
                                "SELECT COUNT(*) FROM appeals WHERE resident_id = ?", (who["id"],)
                            )
                        card = any(
                            c.chat_id == h.p.uhead["id"] and counts_as_message(c.method) for c in h.rt.calls[since:]
                        )
                        if filed and card:
                            break
                        mine = [
                            c
                            for c in h.rt.calls[since:]
                            if c.chat_id == who["id"] and c.method != "answerCallbackQuery"
                        ]
                        last = mine[-1] if mine else None
                        data = [d for _, d in (last.buttons if last is not None else []) if d]
                        choice = next((d for d in data if d.startswith("f:")), data[0] if data else None)
                        if last is not None and choice is not None:
                            steps.append(f"press {choice}")
                            calls = await h.press(who, last, choice)
                        else:
                            steps.append("type the description")
                            calls = await h.send(
                                updates.message(
                                    who, chat, f"The lift in entrance {n} is stuck on floor 5 since morning"
                                )
                            )
                    del calls
                    made = h.rt.calls[since:]
                    sends = [c for c in made if counts_as_message(c.method)]
                    edits = [c for c in made if c.method.startswith("edit")]
                    to = {"resident": 0, "unit head": 0, "other chats": 0}
                    for c in sends:
                        key = (
                            "resident"
                            if c.chat_id == who["id"]
                            else "unit head"
                            if c.chat_id == h.p.uhead["id"]
                            else "other chats"
                        )
                        to[key] += 1
                    totals.append(len(sends))
                    if n == 0:
                        print(f"  steps: {' -> '.join(steps)}")
                        print(f"  sent: {', '.join(f'{c.method} to {c.chat_id}' for c in sends)}")
                        print(f"  per recipient: {to}; edits of earlier messages: {len(edits)}")
            finally:
                await app.bot_data.outbox().wait_idle()
                await app.bot_data.services.db.close()
    worst = max(totals)
    print(
        f"  messages per appeal filed: {worst} (over {appeals} appeals: min {min(totals)}, max {worst});"
        f" target <= {TARGET}: {'PASS' if worst <= TARGET else 'MISS'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appeals", type=int, default=5)
    parser.add_argument("--tree", type=Path, help="run another checkout's code")
    args = parser.parse_args()
    if args.tree is not None:
        env = {**os.environ, "PYTHONPATH": str(args.tree.resolve())}
        script = [sys.executable, str(HERE / "messages_bench.py"), "--appeals", str(args.appeals)]
        raise SystemExit(subprocess.call(script, cwd=args.tree, env=env))
    print(f"messages bench: {Path.cwd()}")
    asyncio.run(run(args.appeals))


if __name__ == "__main__":
    main()
