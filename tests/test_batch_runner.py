"""run_payout_batch against the emulator: outcomes, faults, cancellation, resume - never twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import anyio
import pytest

from freedompay_async import FreedomPayClient, PayoutPolicy, RetryPolicy
from freedompay_async.batch import (
    BatchReport,
    Journal,
    JournalError,
    JournalMismatch,
    PayoutRow,
    PreflightError,
    RowState,
    payout_row,
    run_payout_batch,
)
from freedompay_async.testing import Emulator, Fault, Rule

pytestmark = pytest.mark.anyio

OK_CARD = "4405645000006150"
DECLINED_10000 = "5325349472901311"
DECLINED_8888 = "5543974702876045"
PROCESS_OK = "5507841999732294"
PROCESS_ERROR = "4532676596620704"
CREATE = "g2g/p2p2nonreg"
POST_LINK = "http://127.0.0.1:9/notify"
FAST = PayoutPolicy(
    poll_initial=0.01, poll_max=0.05, wait_deadline=2, reconcile_deadline=0.5, not_found_grace=0.2
)
TRUTH = {"success": RowState.SUCCESS, "error": RowState.ERROR, "process": RowState.PROCESS}


def rows_for(cards: list[str], prefix: str = "R") -> list[PayoutRow]:
    return [
        payout_row(
            {
                "order_id": f"{prefix}-{index}",
                "amount": "10.00",
                "description": "batch test",
                "card_number": card,
            },
            index + 2,
        )
        for index, card in enumerate(cards)
    ]


@pytest.fixture
async def client(freedompay_emulator: Emulator) -> AsyncIterator[FreedomPayClient]:
    async with freedompay_emulator.client(
        timeout=aiohttp.ClientTimeout(total=1), payout_policy=FAST
    ) as fp:
        yield fp


def assert_matches_the_emulator(report: BatchReport, emulator: Emulator) -> None:
    """Every row was created exactly once and its state is the emulator's."""
    for row in report.rows:
        assert emulator.created_count(row.order_id) == 1, row
        assert TRUTH[emulator.payouts[row.order_id].status] is row.state, row
        assert row.payment_id == emulator.payouts[row.order_id].payment_id


async def test_mixed_outcomes(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    freedompay_emulator.rules.add(Rule.error(420, "Limit exceeded", order_id="R-5"))
    freedompay_emulator.rules.add(Rule.process(then="ok", polls=3, order_id="R-6"))
    cards = [OK_CARD, DECLINED_10000, DECLINED_8888, PROCESS_OK, PROCESS_ERROR, OK_CARD, OK_CARD]
    seen: list[int] = []
    report = await run_payout_batch(
        client,
        rows_for(cards),
        journal=tmp_path / "j.sqlite",
        concurrency=3,
        post_link=POST_LINK,
        on_progress=lambda counts: seen.append(counts[RowState.PENDING]),
    )
    states = {row.order_id: row.state for row in report.rows}
    assert states == {
        "R-0": RowState.SUCCESS,
        "R-1": RowState.ERROR,
        "R-2": RowState.ERROR,
        "R-3": RowState.SUCCESS,
        "R-4": RowState.ERROR,
        "R-5": RowState.ERROR,
        "R-6": RowState.SUCCESS,
    }
    codes = {row.order_id: row.error_code for row in report.rows if row.error_code}
    # process -> error carries the decline code too: one channel for declines
    assert codes == {"R-1": 10000, "R-2": 8888, "R-4": 10001, "R-5": 420}
    assert report.rows[5].error_description == "Limit exceeded"
    assert report.counts[RowState.SUCCESS] == 3
    assert report.stopped is None
    assert seen[0] == 7
    assert seen[-1] == 0
    assert_matches_the_emulator(report, freedompay_emulator)
    assert Journal.read_report(tmp_path / "j.sqlite").rows == report.rows


async def test_rows_to_saved_cards(freedompay_emulator: Emulator, client: FreedomPayClient) -> None:
    token = freedompay_emulator.save_card("user-1", OK_CARD)
    card_id = freedompay_emulator.card_id(freedompay_emulator.save_card("user-2", OK_CARD))
    rows = [
        payout_row({"order_id": "T-1", "amount": "5", "description": "d", "card_token": token,
                    "user_id": "user-1"}),
        payout_row({"order_id": "T-2", "amount": "5", "description": "d", "card_id": card_id,
                    "user_id": "user-2"}),
    ]  # fmt: skip
    report = await run_payout_batch(client, rows, post_link=POST_LINK)
    assert [row.state for row in report.rows] == [RowState.SUCCESS, RowState.SUCCESS]
    assert [row.operation for row in report.rows] == ["payouts.to_token"] * 2
    assert_matches_the_emulator(report, freedompay_emulator)


async def test_a_lost_answer_is_reconciled_not_resent(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    freedompay_emulator.faults.add(Fault.drop_after_commit(endpoint=CREATE, order_id="R-1"))
    report = await run_payout_batch(client, rows_for([OK_CARD] * 3), post_link=POST_LINK)
    assert report.all_succeeded
    assert_matches_the_emulator(report, freedompay_emulator)


async def test_a_lost_answer_with_status_down_is_unknown_until_resumed(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    emu = freedompay_emulator
    emu.faults.add(Fault.drop_after_commit(endpoint=CREATE, order_id="R-1"))
    for path in ("g2g/payout_status2", "g2g/payout_status"):
        emu.faults.add(Fault.http_error(503, endpoint=path, order_id="R-1"))
    journal = tmp_path / "j.sqlite"
    rows = rows_for([OK_CARD] * 3)
    report = await run_payout_batch(
        client, rows, journal=journal, post_link=POST_LINK, status_preflight=False
    )
    assert [row.state for row in report.rows] == [
        RowState.SUCCESS,
        RowState.UNKNOWN,
        RowState.SUCCESS,
    ]
    assert emu.created_count("R-1") == 1  # unknown, and never sent again in the same run
    emu.faults.clear()
    resumed = await run_payout_batch(client, rows, journal=journal)
    assert resumed.all_succeeded
    assert resumed.rows[1].attempts == 1  # learnt through the status endpoint, not re-sent
    assert_matches_the_emulator(resumed, emu)


async def test_a_request_dropped_before_processing_is_sent_again_only_by_the_journal(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    freedompay_emulator.faults.add(Fault.drop_before(endpoint=CREATE, order_id="R-0", times=1))
    rows = rows_for([OK_CARD, PROCESS_OK])
    journal = tmp_path / "j.sqlite"
    report = await run_payout_batch(client, rows, journal=journal, post_link=POST_LINK)
    # The run itself never re-sends an ambiguous create: the row stays in doubt.
    assert report.rows[0].state is RowState.UNKNOWN
    assert freedompay_emulator.created_count("R-0") == 0
    await anyio.sleep(client.payouts.policy.not_found_grace)
    # The resume: signed "not found" and the last send older than the grace -> sent again.
    report = await run_payout_batch(client, rows, journal=journal)
    assert report.all_succeeded
    assert_matches_the_emulator(report, freedompay_emulator)
    dropped = [r for r in freedompay_emulator.fault_records if r.order_id == "R-0"]
    assert len(dropped) == 1


async def test_cancelling_mid_batch_leaves_a_consistent_journal_that_resumes(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    emu = freedompay_emulator
    emu.faults.add(Fault.latency(0.1, endpoint=CREATE))
    journal = tmp_path / "j.sqlite"
    rows = rows_for([OK_CARD, DECLINED_10000, PROCESS_OK, OK_CARD] * 10)
    with anyio.move_on_after(0.25):
        await run_payout_batch(client, rows, journal=journal, concurrency=8, post_link=POST_LINK)
    snapshot = Journal.read_report(journal)
    counts = snapshot.counts
    assert counts[RowState.SENDING] > 0
    assert counts[RowState.PENDING] > 0
    assert sum(counts.values()) == len(rows)
    for row in snapshot.rows:  # every row the gateway has is in doubt or final, never pending
        if row.order_id in emu.payouts:
            assert row.state is not RowState.PENDING
    await anyio.sleep(0.3)  # let the emulator finish what it received
    emu.faults.clear()
    report = await run_payout_batch(client, rows, journal=journal, concurrency=8)
    assert report.counts[RowState.SUCCESS] == 30
    assert report.counts[RowState.ERROR] == 10
    assert_matches_the_emulator(report, emu)


async def test_resume_asks_before_sending_again(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    """A crash between "sending" and the answer, for a request that arrived and one that
    did not: the first is learnt from the status endpoint, the second sent after the grace."""
    emu = freedompay_emulator
    rows = rows_for([OK_CARD, OK_CARD, OK_CARD])
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        journal.start(
            merchant_id=client.merchant_id, gateway=client.base_url, rows=rows, post_link=POST_LINK
        )
        journal.transition("R-0", RowState.SENDING)  # it arrived: the gateway has it
        await client.payouts.to_card(
            order_id="R-0",
            amount=Decimal("10.00"),
            card_number=OK_CARD,
            description="batch test",
            post_link=POST_LINK,
        )
        journal.transition("R-1", RowState.SENDING)  # killed before the request left
    report = await run_payout_batch(client, rows, journal=path)
    assert report.all_succeeded
    assert [row.attempts for row in report.rows] == [1, 2, 1]
    assert_matches_the_emulator(report, emu)
    with Journal(path) as journal:
        trail = [(e[2], e[3]) for e in journal.events("R-1")]
    assert trail == [("pending", "sending"), ("sending", "sending"), ("sending", "success")]


async def test_not_found_within_the_grace_stays_unknown(
    freedompay_emulator: Emulator, tmp_path: Path
) -> None:
    patient = PayoutPolicy(poll_initial=0.01, reconcile_deadline=0.2, not_found_grace=60)
    rows = rows_for([OK_CARD])
    path = tmp_path / "j.sqlite"
    async with freedompay_emulator.client(payout_policy=patient) as client:
        with Journal(path) as journal:
            journal.start(
                merchant_id=client.merchant_id,
                gateway=client.base_url,
                rows=rows,
                post_link=POST_LINK,
            )
            journal.transition("R-0", RowState.SENDING)
        report = await run_payout_batch(client, rows, journal=path)
    assert report.rows[0].state is RowState.UNKNOWN
    assert freedompay_emulator.created_count("R-0") == 0  # not sent again within the grace


async def test_process_rows_are_left_in_process_without_wait_and_settled_on_resume(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    rows = rows_for([PROCESS_OK, PROCESS_ERROR, OK_CARD])
    path = tmp_path / "j.sqlite"
    first = await run_payout_batch(client, rows, journal=path, post_link=POST_LINK, wait=False)
    assert [row.state for row in first.rows] == [
        RowState.PROCESS,
        RowState.PROCESS,
        RowState.SUCCESS,
    ]
    second = await run_payout_batch(client, rows, journal=path)
    assert [row.state for row in second.rows] == [
        RowState.SUCCESS,
        RowState.ERROR,
        RowState.SUCCESS,
    ]
    assert_matches_the_emulator(second, freedompay_emulator)


async def test_a_payout_still_in_process_at_the_deadline_stays_process(
    freedompay_emulator: Emulator,
) -> None:
    freedompay_emulator.rules.add(Rule.process(polls=None, seconds=60, order_id="R-0"))
    short = PayoutPolicy(poll_initial=0.01, poll_max=0.02, wait_deadline=0.2)
    async with freedompay_emulator.client(payout_policy=short) as client:
        report = await run_payout_batch(client, rows_for([OK_CARD]), post_link=POST_LINK)
    assert report.rows[0].state is RowState.PROCESS
    assert report.rows[0].payment_id


async def test_a_wrong_key_is_found_before_anything_is_sent(
    freedompay_emulator: Emulator, tmp_path: Path
) -> None:
    async with freedompay_emulator.client(payout_secret_key="not-the-key") as wrong:
        with pytest.raises(PreflightError, match="payout secret key"):
            await run_payout_batch(wrong, rows_for([OK_CARD] * 3), post_link=POST_LINK)
    assert not freedompay_emulator.payouts


async def test_a_signed_bad_signature_answer_stops_the_batch(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    freedompay_emulator.faults.add(Fault.latency(0.02, endpoint=CREATE))
    freedompay_emulator.rules.add(Rule.error(100, "Invalid signature", order_id="R-3"))
    report = await run_payout_batch(
        client, rows_for([OK_CARD] * 30), concurrency=2, post_link=POST_LINK
    )
    assert report.stopped is not None
    assert "signature" in report.stopped
    assert report.rows[3].state is RowState.PENDING  # a signed refusal: safe to send later
    assert report.counts[RowState.PENDING] > 20


async def test_an_unreachable_gateway_leaves_rows_pending(tmp_path: Path) -> None:
    async with FreedomPayClient(
        "552893",
        "k",
        base_url="http://127.0.0.1:9",
        payout_policy=FAST,
        retry=RetryPolicy(attempts=1),
    ) as client:
        with pytest.raises(PreflightError, match="cannot be reached"):
            await run_payout_batch(client, rows_for([OK_CARD] * 3), post_link=POST_LINK)
        report = await run_payout_batch(
            client, rows_for([OK_CARD] * 3), post_link=POST_LINK, preflight=False
        )
    assert report.counts[RowState.PENDING] == 3  # certainly not sent: safe to send later


async def test_stop_starts_no_new_rows(
    freedompay_emulator: Emulator, client: FreedomPayClient
) -> None:
    freedompay_emulator.faults.add(Fault.latency(0.05, endpoint=CREATE))
    stop = anyio.Event()
    rows = rows_for([OK_CARD] * 40)

    def progress(counts: object) -> None:
        if freedompay_emulator.payouts:
            stop.set()

    report = await run_payout_batch(
        client, rows, concurrency=4, post_link=POST_LINK, stop=stop, on_progress=progress
    )
    assert report.stopped == "stop requested"
    done = report.counts[RowState.SUCCESS]
    assert 0 < done < 40
    assert report.counts[RowState.PENDING] == 40 - done
    assert len(freedompay_emulator.payouts) == done


async def test_refuses_a_journal_of_another_merchant_before_sending(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite"
    rows = rows_for([OK_CARD])
    with Journal(path) as journal:
        journal.start(merchant_id="1", gateway=client.base_url, rows=rows)
    with pytest.raises(JournalMismatch):
        await run_payout_batch(client, rows, journal=path, post_link=POST_LINK)
    assert not freedompay_emulator.calls


async def test_rows_need_a_post_link(client: FreedomPayClient) -> None:
    from freedompay_async import ValidationError

    with pytest.raises(ValidationError, match="post_link"):
        await run_payout_batch(client, rows_for([OK_CARD]))


async def test_a_journal_that_cannot_be_written_stops_the_batch(
    freedompay_emulator: Emulator, client: FreedomPayClient, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    rows = rows_for([OK_CARD] * 40)

    def break_the_disk(counts: object) -> None:
        if len(freedompay_emulator.payouts) >= 5 and journal._db is not None:
            journal._db.execute("PRAGMA query_only = ON")

    with pytest.raises(JournalError, match="cannot write"):
        await run_payout_batch(
            client, rows, journal=journal, concurrency=3, post_link=POST_LINK,
            on_progress=break_the_disk,
        )  # fmt: skip
    journal.close()
    on_disk = {row.order_id: row.state for row in Journal.read_report(path).rows}
    assert 5 <= len(freedompay_emulator.payouts) < 40
    for order_id in freedompay_emulator.payouts:  # nothing went out without its "sending"
        assert on_disk[order_id] is not RowState.PENDING
