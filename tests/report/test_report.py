"""`write_report`: the HTML file with its embedded plots, the markdown summary, and what happens when
the verdicts lack a plot's data."""

from __future__ import annotations

import base64
import dataclasses
import re
import struct

import numpy as np
import pytest

from latentflow.metrics.attention import DEFAULT_STABLE_THRESHOLD
from latentflow.report import build_sections, write_report
from latentflow.report.cases import read_cases, report_order
from latentflow.report.entropy import entropy_grids, entropy_section
from latentflow.report.forest import forest_panels, forest_rows
from latentflow.report.gate_sweep import gate_points, gate_value

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def embedded_pngs(html: str) -> dict[str, tuple[int, int]]:
    """alt text -> (width, height) of every embedded image, read from its decoded PNG header."""
    sizes = {}
    for alt, payload in DATA_URI.findall(html):
        png = base64.b64decode(payload, validate=True)
        assert png[:8] == PNG_SIGNATURE
        assert png[12:16] == b"IHDR"
        sizes[alt] = struct.unpack(">II", png[16:24])
    return sizes


# -- the files -------------------------------------------------------------------------------


def test_writes_html_and_markdown_with_every_plot(tmp_path, verdicts):
    files = write_report(verdicts, tmp_path / "out" / "report.html")
    assert files.html_path == tmp_path / "out" / "report.html"
    assert files.markdown_path == tmp_path / "out" / "report.md"
    assert files.plots == ("effect_sizes", "attention_entropy", "gate_sweep")
    assert files.omitted == {}
    html = files.html_path.read_text(encoding="utf-8")
    sizes = embedded_pngs(html)
    assert set(sizes) == {"Effect sizes per hypothesis", "Attention entropy per layer and sampler step",
                          "Block ratio vs anchor gate"}
    for width, height in sizes.values():
        assert width >= 500 and height >= 250
    # The forest plot has one row per case and per claim header: taller with more cases.
    assert sizes["Effect sizes per hypothesis"][1] > sizes["Block ratio vs anchor gate"][1]


def test_html_is_self_contained(tmp_path, verdicts):
    html = write_report(verdicts, tmp_path / "report.html").html_path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<img ") == 3 == len(DATA_URI.findall(html))
    for external in ("http://", "https://", "<script", "<link", "url("):
        assert external not in html


def test_verdict_table_shows_paper_numbers_and_verdicts(tmp_path, r):
    verdicts = r.full_verdicts()
    # A claim that breaks although the spec expects it to hold, with markup in the paper's text.
    verdicts.append(r.make_verdict("dual_pathway::uniform_attention", holds=False, effect=-0.1,
                                   effect_ci=(-0.4, 0.2), paper="STOI <0.01 & d=-0.1"))
    html = write_report(verdicts, tmp_path / "report.html").html_path.read_text(encoding="utf-8")
    table = html[html.index("<table>"):html.index("</table>")]
    rows = re.findall(r'<tr class="(pass|fail)"><td><b>', table)
    assert rows == ["fail"] + ["pass"] * 6  # failures first
    assert table.count('<td class="verdict">PASS</td>') == 6
    assert table.count('<td class="verdict">FAIL</td>') == 1
    assert "STOI &lt;0.01 &amp; d=-0.1" in table and "STOI <0.01" not in table
    assert "STOI -0.219 (d=-0.89)" in table
    assert "sar_db: -9.85; d: -0.82" in table  # a mapping of paper numbers
    assert "stoi: 0.55 vs 0.76; Δ -0.21 [-0.3, -0.12]" in table
    assert "d_z -0.92 [-1.4, -0.45]" in table
    assert "0.0012 (bonferroni)" in table
    assert '<span class="pass">6 as expected</span><span class="fail">1 not as expected</span>' in html


def test_markdown_summary(tmp_path, verdicts):
    files = write_report(verdicts, tmp_path / "report.html")
    md = files.markdown_path.read_text(encoding="utf-8")
    lines = md.splitlines()
    assert lines[0] == "# latentflow report"
    assert "6 cases: 6 as expected, 0 not as expected. Plots: [report.html](report.html)." in lines
    assert ("| `dual_pathway::text_proj_zero[clean]` | STOI -0.219 (d=-0.89) | stoi: 0.55 vs 0.76; "
            "Δ -0.21 [-0.3, -0.12] | d_z -0.92 [-1.4, -0.45] | 0.0012 (bonferroni) | holds | holds | **PASS** |") in lines
    assert "| `dual_pathway::ca_zero[clean]` |" in md and "| does not hold | fails | **PASS** |" in md
    assert ("- self-attention: 4 layers x 16 steps; threshold 0.01; stable layers [0, 2], fast layers [1, 3]; "
            "rates {0: 0.002, 1: 0.03, 2: 0.004, 3: 0.05}") in lines
    assert ("- `segmentation_cues::gate_hijack_block_ratio[5.0]`: gate 5 -> block_ratio 9.3 "
            "(learned gate: 5.7)") in lines
    assert "data:image" not in md


def test_same_verdicts_give_the_same_bytes(tmp_path, verdicts):
    first = write_report(verdicts, tmp_path / "a.html")
    second = write_report(verdicts, tmp_path / "b.html")
    assert first.html_path.read_bytes() == second.html_path.read_bytes()


# -- the entropy heatmap's numbers -----------------------------------------------------------


def test_entropy_grid_rates_and_stable_fast_split(r, verdicts):
    (grid,), notes = entropy_grids(read_cases(verdicts))
    assert notes == ()
    assert grid.kind == "attn" and grid.layers == (0, 1, 2, 3) and grid.steps == tuple(range(r.N_STEPS))
    assert grid.rates == pytest.approx([abs(s) for s in r.ENTROPY_SLOPES], abs=1e-12)
    assert grid.threshold == DEFAULT_STABLE_THRESHOLD
    assert (grid.stable_layers, grid.fast_layers) == ((0, 2), (1, 3))
    assert grid.values[1, 3] == pytest.approx(0.70 - 0.03 * 3)
    # The threshold is a parameter: at 0.04 layer 1 (rate 0.03) is stable too.
    (wide,), _ = entropy_grids(read_cases(verdicts), threshold=0.04)
    assert (wide.stable_layers, wide.fast_layers) == ((0, 1, 2), (3,))


def test_spec_rates_and_threshold_classify_the_layers_they_measured(r):
    # The convergence spec's own rates (per example, then averaged: higher than the averaged
    # row's) and its threshold decide the layers it measured; the others use the row's rate.
    profile = r.entropy_profile()
    rates = {"blocks.0.attn.hook_pattern": 0.013, "blocks.1.attn.hook_pattern": 0.004}
    verdicts = [r.make_verdict("async::rate", measure=r.measure_of("entropy_rate", "internal"),
                               extra={"baseline_profile": profile, "baseline_rates": rates, "stable_threshold": 0.0076})]
    (grid,), notes = entropy_grids(read_cases(verdicts))
    assert notes == () and grid.threshold == 0.0076 and grid.spec_rated == (0, 1)
    assert grid.rates[:2] == (0.013, 0.004)
    assert grid.rates[2:] == pytest.approx([abs(s) for s in r.ENTROPY_SLOPES[2:]], abs=1e-12)
    assert (grid.stable_layers, grid.fast_layers) == ((1, 2), (0, 3))  # layer 2: row rate 0.004
    section = entropy_section(read_cases(verdicts))
    assert "entropy_rate (per example and head, then averaged) for self-attention layers [0, 1]" in section.caption
    assert "Layers with rate ≤ 0.0076 are stable" in section.caption


def test_entropy_profiles_of_per_layer_cases_are_merged(r):
    verdicts = [r.make_verdict(f"async::rate[{layer}]", measure=r.measure_of("entropy_rate", "internal"),
                               extra={"baseline_profile": r.entropy_profile([layer])}) for layer in (3, 0, 1)]
    # Another case that measured layer 0 on the same baseline run, and a cross-attention profile.
    verdicts.append(r.make_verdict("async::mean_entropy", measure=r.measure_of("attention_entropy", "internal"),
                                   extra={"baseline_profile": {**r.entropy_profile([0]),
                                                               **r.entropy_profile([2], kind="cross_attn")}}))
    grids, notes = entropy_grids(read_cases(verdicts))
    assert [g.kind for g in grids] == ["attn", "cross_attn"]
    attn, cross = grids
    assert attn.layers == (0, 1, 3) and attn.disagreement == 0.0
    assert attn.sources == ("async::rate[3]", "async::rate[0]", "async::rate[1]",
                            "async::mean_entropy")
    assert (attn.stable_layers, attn.fast_layers) == ((0,), (1, 3))
    assert cross.layers == (2,) and cross.stable_layers == (2,)
    assert notes == ()


def test_entropy_cells_measured_differently_are_averaged_with_a_note(r, tmp_path):
    shifted = r.entropy_profile([0])
    shifted["blocks.0.attn.hook_pattern"] = {k: v + 0.1 for k, v in shifted["blocks.0.attn.hook_pattern"].items()}
    verdicts = [r.make_verdict("async::a", measure=r.measure_of("attention_entropy", "internal"),
                               extra={"baseline_profile": r.entropy_profile([0])}),
                r.make_verdict("async::b", measure=r.measure_of("attention_entropy", "internal"), extra={"baseline_profile": shifted})]
    (grid,), _ = entropy_grids(read_cases(verdicts))
    assert grid.disagreement == pytest.approx(0.1)
    assert grid.values[0, 0] == pytest.approx(0.85)
    section = build_sections(verdicts)[1]
    assert any("largest disagreement 0.1" in note for note in section.notes)


def test_entropy_sites_steps_and_measures_that_do_not_belong_are_left_out(r):
    profile = r.entropy_profile([0, 1])
    profile["blocks.0.attn.hook_pattern"]["None"] = 0.5  # recorded outside the sampler
    profile["blocks.1.attn.hook_pattern"] = {"0": 0.4}  # a single step: no rate
    profile["blocks.2.hook_resid_post"] = {"0": 3.0}
    verdicts = [r.make_verdict("async::a", measure=r.measure_of("entropy_rate", "internal"), extra={"baseline_profile": profile}),
                # Profiles of other internal measures are not entropies.
                r.make_verdict("seg::contrast", measure=r.measure_of("boundary_contrast", "internal"),
                               extra={"baseline_profile": r.entropy_profile([3])})]
    (grid,), notes = entropy_grids(read_cases(verdicts))
    assert grid.layers == (0, 1) and grid.steps == tuple(range(r.N_STEPS))
    assert grid.rates[1] is None and grid.stable == (True, None)
    assert np.isnan(grid.values[1, 1:]).all()
    assert notes == ("async::a: site 'blocks.2.hook_resid_post' is not blocks.N.attn/cross_attn.hook_pattern; "
                     "left out",)
    section = build_sections(verdicts)[1]
    assert not section.omitted
    assert any("layers [1] have fewer than 2 recorded steps" in note for note in section.notes)


# -- block ratio vs gate ----------------------------------------------------------------------


def test_gate_value_from_params_or_the_intervention(r):
    cases = read_cases([
        r.make_verdict("s::a[2.5]", params={"gate": 2.5}, interventions=[r.intervention("override_scalar", "hook_anchor_gate", value=9)]),
        r.make_verdict("s::b", interventions=[r.intervention("zero", "hook_text_proj"), r.intervention("override_scalar", "hook_anchor_gate", value=-1.5e0)]),
        r.make_verdict("s::c", interventions=[r.intervention("scale", "hook_text_proj", value=3.0)]),
        r.make_verdict("s::d", params={"gate": "high"}, interventions=[]),
    ])
    assert [gate_value(c) for c in cases] == [2.5, -1.5, None, None]


def test_gate_points_put_the_change_interval_on_the_baseline(verdicts):
    points, notes = gate_points(read_cases(verdicts))
    assert notes == ()
    by_case = {p.case_id: p for p in points}
    p = by_case["segmentation_cues::gate_hijack_block_ratio[5.0]"]
    assert (p.metric, p.gate, p.value, p.baseline) == ("block_ratio", 5.0, 9.3, 5.7)
    assert (p.low, p.high) == pytest.approx((5.7 + 2.5, 5.7 + 4.7))
    assert by_case["segmentation_cues::gate_hijack_sisnr"].metric == "si_snr"
    assert len(points) == 3


# -- missing data ----------------------------------------------------------------------------


def test_each_plot_is_omitted_with_a_note_when_its_data_is_missing(tmp_path, r):
    # Paired claims only: no internal entropy measure, no block ratio.
    verdicts = [r.make_verdict("dual_pathway::a"), r.make_verdict("dual_pathway::b", effect=None, effect_ci=None)]
    files = write_report(verdicts, tmp_path / "report.html")
    assert files.plots == ("effect_sizes",)
    assert set(files.omitted) == {"attention_entropy", "gate_sweep"}
    assert files.omitted["gate_sweep"] == "no verdict measures block_ratio"
    html = files.html_path.read_text(encoding="utf-8")
    assert len(embedded_pngs(html)) == 1
    assert html.count('<p class="omitted">Plot omitted:') == 2
    assert "dual_pathway::b: no effect size" in html  # the forest plot says which case it left out
    md = files.markdown_path.read_text(encoding="utf-8")
    assert "Plot omitted: no verdict measures block_ratio." in md


def test_plots_omitted_when_their_cases_lack_the_numbers(r):
    verdicts = [
        r.make_verdict("seg::br", measure=r.measure_of("block_ratio", "target"), interventions=[], params={}, effect=None),
        # An entropy measure without extra.baseline_profile.
        r.make_verdict("async::rate", measure=r.measure_of("entropy_rate", "internal"), effect=None),
        r.make_verdict("x::y", effect=None, effect_ci=None),
    ]
    effects, entropy, sweep = build_sections(verdicts)
    assert effects.omitted and effects.caption == "no verdict has a computed effect size (stats.effect_size) among 3 verdicts"
    assert entropy.omitted and "1 attention-entropy verdict, but none carries a usable extra.baseline_profile" in entropy.caption
    assert entropy.notes == ("async::rate: entropy measure without a baseline_profile",)
    assert sweep.omitted and sweep.caption == "1 block_ratio verdict, but none has a gate value and a finite mean"
    assert sweep.notes[0].startswith("seg::br: block ratio without a gate value")
    with pytest.raises(ValueError, match="plot 'gate_sweep' was omitted"):
        _ = sweep.data_uri


def test_no_verdicts_gives_a_report_that_says_so(tmp_path):
    files = write_report([], tmp_path / "empty.html")
    assert files.plots == ()
    html = files.html_path.read_text(encoding="utf-8")
    assert "No verdicts: the run produced no claim results." in html
    assert "0 cases" in html and html.count("Plot omitted:") == 3
    assert files.omitted["effect_sizes"] == "no verdicts"


def test_verdicts_from_an_older_file_with_few_fields_still_render(tmp_path):
    files = write_report([{"case_id": "c::h", "holds": True, "passed": True}], tmp_path / "old.html")
    html = files.html_path.read_text(encoding="utf-8")
    assert "<code>h</code>" in html and '<td class="verdict">PASS</td>' in html


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("verdicts, message", [
    ({"case_id": "a"}, "verdicts must be a list of verdict dicts"),
    ([["a"]], r"verdicts\[0\]: expected a verdict dict, got list"),
    ([{"holds": True}], r"verdicts\[0\]\.case_id: expected a non-empty string, got None"),
    ([{"case_id": "c::h", "holds": "yes"}], r"verdicts\[0\] \(c::h\)\.holds: 'yes' is not allowed; expected true or false"),
    ([{"case_id": "c::h", "stats": {"effect_size": "1.2"}}],
     r"verdicts\[0\] \(c::h\)\.stats\.effect_size: '1.2' is not allowed; expected a number or null"),
    ([{"case_id": "c::h", "stats": {"effect_size_interval": [1.0]}}],
     r"\.stats\.effect_size_interval: \[1\.0\] is not allowed; expected \[low, high\]"),
])
def test_bad_verdicts_are_named(tmp_path, verdicts, message):
    with pytest.raises(ValueError, match=message):
        write_report(verdicts, tmp_path / "report.html")
    assert not (tmp_path / "report.html").exists()


def test_report_path_must_be_html(tmp_path, verdicts):
    with pytest.raises(ValueError, match=r"must end in \.html or \.htm"):
        write_report(verdicts, tmp_path / "report.pdf")


def test_report_files_object_is_frozen(tmp_path, verdicts):
    files = write_report(verdicts, tmp_path / "report.htm")
    assert files.markdown_path == tmp_path / "report.md"
    with pytest.raises(dataclasses.FrozenInstanceError):
        files.sections = ()


def test_claim_paper_numbers_and_spec_order_with_failures_first(tmp_path, r):
    def verdict(case_id, line, order, holds=True, **kw):
        v = r.make_verdict(case_id, holds=holds, **kw)
        v.update(location=f"specs/{case_id.split('::')[0]}.yaml:{line}", order=order,
                 claim_title=f"title of claim {case_id.split('::')[0]}", claim_paper={"si_snr_drop_db": 14.6})
        return v

    # as a results file has them: sorted by case id, not in spec order
    verdicts = [verdict("a::x", 30, 2), verdict("a::y", 10, 0), verdict("a::z", 20, 1, holds=False),
                verdict("b::only", 5, 0), verdict("c::late", 9, 1), verdict("c::early", 4, 0, holds=False)]
    cases = report_order(read_cases(verdicts))
    # claims with a failure first (in spec-file order), each with its failures first, then spec order
    assert [c.case_id for c in cases] == ["a::z", "a::y", "a::x", "c::early", "c::late", "b::only"]
    files = write_report(verdicts, tmp_path / "report.html")
    html = files.html_path.read_text(encoding="utf-8")
    assert ('<tr class="claim"><th colspan="8">a: title of claim a — paper: si_snr_drop_db: 14.6 — 3 cases, '
            "1 not as expected</th></tr>") in html
    assert html.index("<code>z</code>") < html.index("<code>y</code>") < html.index("<code>x</code>")
    md = files.markdown_path.read_text(encoding="utf-8").splitlines()
    assert "- b: title of claim b — paper: si_snr_drop_db: 14.6 — 1 case" in md
    rows = [line.split("`")[1] for line in md if line.startswith("| `")]
    assert rows == [c.case_id for c in cases]


def test_forest_plot_gives_each_metric_its_own_axis(r):
    cases = read_cases([r.make_verdict("a::entropy", measure=r.measure_of("attention_entropy", "internal"), effect=-107.0,
                                       effect_ci=(-130.0, -84.0)),
                        r.make_verdict("a::stoi", measure=r.measure_of("stoi", "target"), effect=-0.9),
                        r.make_verdict("b::entropy2", measure=r.measure_of("attention_entropy", "internal"), effect=-80.0)])
    assert forest_panels(cases) == [("attention_entropy", [("a", True), ("entropy", False), ("b", True),
                                                           ("entropy2", False)]),
                                    ("stoi", [("a", True), ("stoi", False)])]
    section = build_sections([r.make_verdict("a::entropy", measure=r.measure_of("attention_entropy", "internal"), effect=-107.0,
                                             effect_ci=(-130.0, -84.0)),
                              r.make_verdict("a::stoi", measure=r.measure_of("stoi", "target"), effect=-0.9)])[0]
    import io

    from matplotlib.image import imread

    image = imread(io.BytesIO(section.png))
    assert "one panel (and axis) per metric" in section.caption
    # two panels: the stoi interval [-1.3, -0.5] spans a visible part of its own axis, i.e. its
    # green line is many pixels long (on a shared axis with -107 it would be a few pixels)
    green = (np.abs(image[..., 0] - 0x1f / 255) < 0.02) & (np.abs(image[..., 1] - 0x8a / 255) < 0.02)
    rows = np.flatnonzero(green.any(axis=1))
    lower_half = green[rows[rows > image.shape[0] // 2]]
    assert lower_half.sum(axis=1).max() > 100


def test_a_gate_measure_at_one_value_is_a_table_not_a_sweep(tmp_path, r):
    single = [r.make_verdict("seg::br", measure=r.measure_of("block_ratio", "target"), params={"gate": 5.0},
                             interventions=[r.intervention("override_scalar", "hook_anchor_gate", value=5.0)], x_mean=9.3, y_mean=5.7)]
    (section,) = [s for s in build_sections(single) if s.key == "gate_sweep"]
    assert section.png is None and not section.omitted
    assert section.table == (("case", "gate", "measure", "overridden gate", "learned gate", "interval"),
                             ("seg::br", "5", "block_ratio", "9.3", "5.7", "[2.8, 4.4]"))
    assert section.caption.startswith("Each measure was taken at a single overridden gate value")
    files = write_report(single, tmp_path / "report.html")
    html = files.html_path.read_text(encoding="utf-8")
    assert "Block ratio vs anchor gate" not in embedded_pngs(html)
    assert "<td>seg::br</td><td>5</td><td>block_ratio</td><td>9.3</td><td>5.7</td>" in html
    md = files.markdown_path.read_text(encoding="utf-8")
    assert "| seg::br | 5 | block_ratio | 9.3 | 5.7 | [2.8, 4.4] |" in md
    # beside a real sweep, the single-valued measure (si_snr at gate 5 only) is in the table
    (sweep,) = [s for s in build_sections(r.full_verdicts()) if s.key == "gate_sweep"]
    assert sweep.png is not None and [row[0] for row in sweep.table[1:]] == ["segmentation_cues::gate_hijack_sisnr"]


def test_forest_plot_groups_cases_under_one_header_per_claim(r):
    cases = read_cases([r.make_verdict("b::one"), r.make_verdict("a::two"), r.make_verdict("b::three"),
                        r.make_verdict("a::four", effect=None)])
    assert forest_rows(cases) == [("b", True), ("one", False), ("three", False), ("a", True), ("two", False)]


def test_a_results_object_of_any_readable_format_is_read_through_the_results_module(r):
    from latentflow.results import ResultsError

    verdict = r.make_verdict("seg::br[5.0]", measure=r.measure_of("block_ratio", "target"),
                             interventions=[r.intervention("override_scalar", "hook_anchor_gate", value=5.0)])
    (case,) = read_cases({"latentflow_results": 3, "verdicts": [verdict]})
    assert case.metric == "block_ratio" and gate_value(case) == 5.0
    # format 2 held the measure as text: its metric is read, the interventions are unknown
    old = dict(verdict, measure="block_ratio (target)", interventions=["override_scalar(value=5.0) at hook_anchor_gate"],
               expectation="increase (paired_t, alpha 0.05)")
    (case,) = read_cases({"latentflow_results": 2, "verdicts": [old]})
    assert case.metric == "block_ratio" and case.interventions == () and gate_value(case) is None
    with pytest.raises(ResultsError, match=r"results: latentflow_results format 7 is not supported"):
        read_cases({"latentflow_results": 7, "verdicts": [verdict]})
    # a verdict list in the current shape must not hold display text
    with pytest.raises(ValueError, match=r"verdicts\[0\] \(seg::br\[5.0\]\)\.measure: 'block_ratio \(target\)' is "
                                         r"not allowed; expected an object"):
        read_cases([old])
