"""The bench's flame graphs: collapsed stacks parsed, summarised and drawn."""

from __future__ import annotations

from devkit.bench import flame

_RUN = "main (/x/worker/__main__.py);run (/usr/lib/python3.11/asyncio/runners.py)"
STACKS = f"""\
{_RUN};handle (/x/worker/ingress/messages.py) 6
{_RUN};send (/v/site-packages/aiokafka/conn.py) 3
main (/x/worker/__main__.py) 1
"""


def test_collapsed_stacks_are_parsed_with_short_module_paths() -> None:
    stacks = flame.parse(STACKS)
    assert stacks[("main (worker/__main__.py)",)] == 1
    deepest = max(stacks, key=len)
    assert deepest[-1] in ("handle (worker/ingress/messages.py)", "send (aiokafka/conn.py)")


def test_summary_ranks_own_and_total_samples_and_packages() -> None:
    found = flame.summary(flame.parse(STACKS))
    assert found["samples"] == 10
    assert found["own"][0] == {
        "frame": "handle (worker/ingress/messages.py)",
        "samples": 6,
        "share": 0.6,
    }
    assert found["total"][0]["samples"] == 10
    assert found["own_by_package"] == {"worker.ingress": 0.6, "aiokafka": 0.3, "worker": 0.1}


def test_flame_graph_is_one_svg_with_a_box_per_frame() -> None:
    svg = flame.render(flame.parse(STACKS), "ingress <fixed>")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "ingress &lt;fixed&gt;: 10 samples" in svg
    assert svg.count("<rect ") == 1 + 5  # background + all, main, run, handle, send
    assert "send (aiokafka/conn.py) (3 samples, 30.0%)" in svg
