"""``viz.show_source``: chapter 2 shows the model's real code, read at run time."""

from __future__ import annotations

from sernb import viz
from sernb.models.fusion import CrossModalAttention, mlp_head


def test_show_source_is_the_code_that_runs():
    shown = viz.show_source(CrossModalAttention)
    markdown = shown._repr_markdown_()
    assert markdown.count("```python") == 1 and markdown.rstrip().endswith("```")
    assert "class CrossModalAttention(nn.Module):" in shown.code
    assert "CrossModalAttention (sernb/models/fusion.py, lines " in markdown
    assert repr(shown).startswith("# CrossModalAttention (sernb/models/fusion.py")


def test_show_source_of_several_methods_dedents_them_in_order():
    shown = viz.show_source(CrossModalAttention.forward, mlp_head)
    assert shown.code.startswith("def forward(") and "\n\ndef mlp_head(" in shown.code
    assert "CrossModalAttention.forward (" in shown._repr_markdown_()
