from tests.harness import Harness


async def test_file_appeal_reaches_unit_head(h: Harness) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    assert appeal_id == 1
    to_head = h.texts(h.p.uhead)
    assert any("New appeal #1" in t for t in to_head), to_head
