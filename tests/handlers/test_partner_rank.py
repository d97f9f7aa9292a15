"""`partners` ranks the partners by their measured record (`record`'s figures), best first, with the
figure that ranks them: verified units × the share of verified claims done on time, less a quarter
for each incident recorded against the partner and each claim taken back from it (halves round up).

The data set, worked out by hand:
  SR-1 (due 10 March): Tom (Contoso) claims 8, reports them on 1 March, 5 verified: on time.
                       Frank (Fabrikam) claims 10, reports them on 1 March, all verified: on time.
  SR-2 (due 20 March): Frank claims 6 and the dispatcher revokes the claim.
                       Tom claims 4, reports them on 25 March (late), all verified.
  Contoso:  9 verified units × 1 of 2 on time (50%) = 4.5 → standing 5.
  Fabrikam: 10 verified units × 100% × (1 − 25% for the revoked claim) = 7.5 → standing 8.
  An incident against Fabrikam: 10 × 100% × (1 − 50%) = 5, level with Contoso: by name, Contoso first.
"""
from __future__ import annotations

from datetime import UTC, datetime

DANA, MORGAN, PAULA, TOM, FRANK = "Dana Dispatch", "Morgan Manager", "Paula Admin", "Tom Tech", "Frank Fabrikam"


def ranked(chat) -> list[tuple[str, str]]:
    """(partner, its rank line) in the order `partners` lists them."""
    return [(f.label.split(" · ")[0], f.value.splitlines()[0]) for f in chat.ok(MORGAN, "partners").fields]


def test_partners_are_ranked_by_their_measured_record(ready, clock):
    ready.ok(DANA, 'request "Firewall swap" units=20 deadline=2027-03-20 pay=35 bill=60 town=Hicksville')
    ready.ok(FRANK, "guidelines ack")
    ready.ok(TOM, "claim SR-1 8")
    ready.ok(TOM, "done SR-1 8")
    ready.ok(DANA, 'verify SR-1 "Tom Tech" 5')
    ready.ok(FRANK, "claim SR-1 10")
    ready.ok(FRANK, "done SR-1 10")
    ready.ok(DANA, 'verify SR-1 "Frank Fabrikam"')
    ready.ok(FRANK, "claim SR-2 6")
    ready.ok(DANA, 'revoke SR-2 "Frank Fabrikam" "taking it in house"')
    ready.ok(TOM, "claim SR-2 4")
    clock.now = datetime(2027, 3, 25, 15, 0, tzinfo=UTC)  # after SR-2's deadline
    ready.ok(TOM, "done SR-2 4")
    ready.ok(DANA, 'verify SR-2 "Tom Tech"')
    assert ranked(ready) == [
        ("Fabrikam Tech", "#1 of 2, standing 8: 10 verified units × 100% on time, less 25% for 1 claim revoked"),
        ("Contoso Field Services", "#2 of 2, standing 5: 9 verified units × 50% on time")]
    fabrikam = ready.ok(MORGAN, "record Fabrikam").text  # the same figure in the partner's record
    assert fabrikam.endswith("standing 8: 10 verified units × 100% on time, less 25% for 1 claim revoked")
    assert "standing 5: 9 verified units × 50% on time" in ready.ok(PAULA, "record").text
    ready.ok(DANA, 'incident Fabrikam "asked the customer for a direct quote"')
    assert ranked(ready) == [
        ("Contoso Field Services", "#1 of 2, standing 5: 9 verified units × 50% on time"),
        ("Fabrikam Tech", ("#2 of 2, standing 5: 10 verified units × 100% on time, "
                           "less 50% for 1 incident and 1 claim revoked"))]
    assert "Ranked by their record" in ready.ok(MORGAN, "partners").text


def test_partners_without_verified_work_rank_last_at_zero(ready):
    ready.ok(TOM, "claim SR-1 8")
    ready.ok(TOM, "done SR-1 8")
    ready.ok(DANA, 'verify SR-1 "Tom Tech"')
    assert ranked(ready) == [
        ("Contoso Field Services", "#1 of 2, standing 8: 8 verified units × 100% on time"),
        ("Fabrikam Tech", "#2 of 2, standing 0: 0 verified units × 0% on time")]
    assert "managers" in ready.refused(PAULA, "partners").text
