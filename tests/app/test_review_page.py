"""The Review page (AppTest): the slide's tiles are review.slide's (the same numbers as the
Overview), next/previous walk the slides, Present keeps the slide, no NaN/None on screen."""
from salesops import review, workspace
from salesops.filters import Filters

from .conftest import no_exceptions


def test_review_walks_the_slides_with_the_numbers_of_the_semantic_layer(app_at, demo_db):
    at = app_at("views/review.py", demo_db)
    no_exceptions(at)
    assert at.title[0].value.startswith("Review · ")
    ws = workspace.load(demo_db)
    f = Filters.make(ws)  # the sidebar's default: the quarter of the data's as-of date
    cover = review.slide(ws, f, "cover")
    assert [m.value for m in at.metric] == [t.value for t in cover.tiles]
    assert at.header[0].value.replace("\\", "") == cover.title
    next_button = next(b for b in at.button if b.label == "Next")
    next_button.click().run()
    no_exceptions(at)
    bookings = review.slide(ws, f, "bookings")
    assert at.header[0].value.replace("\\", "") == bookings.title
    assert [m.value for m in at.metric] == [t.value for t in bookings.tiles]
    at.toggle(key="rv_present").set_value(True).run()
    no_exceptions(at)
    assert at.header[0].value.replace("\\", "") == bookings.title
    next(b for b in at.button if b.label == "Previous").click().run()
    assert at.header[0].value.replace("\\", "") == cover.title
    shown = " ".join([m.value for m in at.metric] + [c.value for c in at.caption] + [md.value for md in at.markdown])
    assert "nan" not in shown.lower().split() and "None" not in shown
