"""Review: the quarterly business review in presentation mode. The sidebar's period and as-of
date (in the URL) choose the quarter and freeze the data; the slides follow one by one, each
with one idea, a sentence from the numbers, its chart and table and presenter notes. The
deck downloads (PowerPoint, PDF, offline HTML) hold the same slides."""
import streamlit as st

from salesops import metrics, reports, review
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui.context import compute

K_SLIDE = "rv_slide"
K_PRESENT = "rv_present"
KEYS = list(review.SLIDES)

# Presentation mode: the sidebar, the app's header and the page's own chrome step aside and the
# type grows for a 1280x720 projector. Static CSS only: no text from any file goes in here.
PRESENT_CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"],
[data-testid="stSidebarNav"] {display: none !important;}
[data-testid="stMainBlockContainer"] {padding-top: 0.6rem !important; padding-bottom: 0.4rem !important; max-width: 100% !important;}
.st-key-rv_title h2 {font-size: 2.3rem !important; padding-top: 0 !important; color: #1565C0;}
.st-key-rv_sentence p {font-size: 1.45rem !important; line-height: 1.35 !important;}
.st-key-rv_tiles [data-testid="stMetricValue"] {font-size: 2.1rem !important;}
.st-key-rv_tiles [data-testid="stMetricLabel"] p {font-size: 1rem !important;}
</style>"""
SLIDE_CSS = """<style>
.st-key-rv_title h2 {color: #1565C0;}
.st-key-rv_title h2 {padding-top: 0 !important; color: #1565C0;}
.st-key-rv_sentence p {font-size: 1.25rem; line-height: 1.4;}
</style>"""

ctx = context.page_context()
if widgets.empty_state(ctx, "the review"):
    st.stop()
if widgets.filter_problem(ctx):
    st.stop()

if K_SLIDE not in st.session_state or st.session_state[K_SLIDE] not in range(len(KEYS)):
    st.session_state[K_SLIDE] = 0


def _step(by: int) -> None:
    st.session_state[K_SLIDE] = min(max(st.session_state[K_SLIDE] + by, 0), len(KEYS) - 1)


presenting = bool(st.session_state.get(K_PRESENT))
st.html(PRESENT_CSS if presenting else SLIDE_CSS)
if not presenting:
    st.title(f"Review · {ctx.period.label}")
    widgets.freshness(ctx)
    st.caption("The sidebar's period and as-of date choose the quarter and freeze the data; the link in the address bar "
               "opens this same review for a colleague. Switch on Present for the projector.")

i = st.session_state[K_SLIDE]
nav = st.columns([1.1, 4, 1.1, 1.6], vertical_alignment="center")
nav[0].button("Previous", key="rv_prev", on_click=_step, args=(-1,), disabled=i == 0, icon=":material/chevron_left:",
              width="stretch")
nav[1].selectbox("Slide", range(len(KEYS)), key=K_SLIDE, label_visibility="collapsed",
                 format_func=lambda n: f"{n + 1} / {len(KEYS)} · {review.SLIDES[KEYS[n]][0]}")
nav[2].button("Next", key="rv_next", on_click=_step, args=(1,), disabled=i == len(KEYS) - 1, icon=":material/chevron_right:",
              width="stretch")
nav[3].toggle("Present", key=K_PRESENT, help="Hide the sidebar and the page's controls, large type for a projector.")

key = KEYS[st.session_state[K_SLIDE]]
try:
    with st.spinner("Preparing the slide…"):
        s = compute(review.slide, ctx, key)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()

with st.container(key="rv_title"):
    st.header(widgets.plain(s.title), anchor=False)
with st.container(key="rv_sentence"):
    st.markdown(widgets.plain(s.sentence))
if s.tiles:
    with st.container(key="rv_tiles"):
        cols = st.columns(len(s.tiles))
        for c, t in zip(cols, s.tiles):
            widgets.note_tile(t.label, t.value, t.note, container=c)

stem = f"review-{ctx.period.label}-{key}"
has_table = s.table is not None and not s.table.empty
if s.chart is not None and has_table:
    left, right = st.columns([3, 2])
elif s.chart is not None:
    left, right = st.container(), None
else:
    left, right = None, st.container()
if s.chart is not None:
    with left:
        widgets.chart_with_downloads(ctx, s.chart, s.chart_data, stem, columns=s.columns if s.chart_data is s.table else None,
                                     key=f"rv_{key}", downloads=not presenting)
if has_table and right is not None:
    with right:
        widgets.table(ctx, s.table, s.columns, key=f"rv_table_{key}", download=None if presenting else stem,
                      height=min(300 if presenting else 420, 36 * (len(s.table) + 1) + 4))

with st.expander("Presenter notes", icon=":material/speaker_notes:"):
    for line in s.notes.split("\n"):
        st.caption(widgets.plain(line))
st.caption(widgets.plain(f"{ctx.period.label} · as of {ctx.as_of:%d %b %Y} · {ctx.filter_text} · definitions version "
                         f"{metrics.definitions_version()} · slide {st.session_state[K_SLIDE] + 1} of {len(KEYS)}"))

if not presenting:
    st.subheader("Hand out the deck")
    st.caption("Every slide of this review, with the same numbers, as a file. Building one takes a little while: "
               "each chart is drawn again for print.")
    c = st.columns(3)
    for col, kind, label, mime in ((c[0], "pptx", "PowerPoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
                                   (c[1], "pdf", "PDF", "application/pdf"), (c[2], "html", "Offline HTML", "text/html")):
        col.download_button(f"Deck as {label}", lambda kind=kind: reports.deck_bytes(compute(review.build, ctx), kind),
                            file_name=f"review-{ctx.period.label}-{ctx.as_of.isoformat()}.{kind}", mime=mime,
                            key=f"rv_deck_{kind}", icon=":material/download:", width="stretch")
