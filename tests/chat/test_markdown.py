"""Model replies are Markdown, shown as HTML that can never carry a script or a foreign request."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from runware_web.chat.markdown import render_markdown


def test_raw_html_in_a_reply_is_shown_as_text():
    html = render_markdown("Look: <img src=x onerror=alert(1)> and <script>alert(2)</script>")
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html


def test_code_blocks_lists_and_links_render():
    html = render_markdown("Steps:\n\n1. **Plan**\n2. Build\n\n```python\nprint('<b>')\n```\n\n[docs](https://runware.ai)")
    assert "<ol>" in html and "<strong>Plan</strong>" in html
    assert "<pre><code class=\"language-python\">" in html and "&lt;b&gt;" in html and "<b>" not in html
    assert '<a href="https://runware.ai" rel="noopener noreferrer nofollow">docs</a>' in html


def test_links_other_than_http_https_and_mailto_lose_their_target():
    html = render_markdown("[a](javascript:alert(1)) [b](data:text/html,hi) [c](mailto:x@example.com)")
    assert "javascript:" not in html.replace("[a](javascript:alert(1))", "")
    assert 'href="data:' not in html
    assert 'href="mailto:x@example.com"' in html


def test_code_is_highlighted_by_token_and_gets_a_copy_button():
    html = render_markdown("```python\nimport os\n```\n\n```\nplain <i>\n```")
    assert '<span class="kn">import</span>' in html  # Pygments' token classes (static/css/highlight.css)
    assert html.count('<button type="button" class="btn btn-small copy-code" data-copy-code>Copy code</button>') == 2
    assert "<pre><code>plain &lt;i&gt;" in html  # no language: not highlighted, still escaped


def test_a_model_cannot_forge_classes_or_buttons():
    html = render_markdown('<span class="k">x</span> <button onclick="x()">b</button>\n\n```js" onclick="y\n1\n```')
    assert "<span" not in html and "&lt;button onclick" in html
    assert not re.search(r"<[^>]*onclick", html)  # in a tag, never: only as text


def test_images_are_not_loaded_from_a_reply():
    assert "<img" not in render_markdown("![tracker](https://evil.example/pixel.png)")


def test_an_unfinished_reply_renders_while_it_streams():
    html = render_markdown("Here:\n\n```python\ndef f():")
    assert '<pre><code class="language-python"><span class="k">def</span>' in html


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>\"'=/ ()[]`*_!&#;:abcimgscrptonerl\n")), max_size=80))
def test_no_text_produces_an_element_or_attribute_outside_the_allow_list(text):
    html = render_markdown(text)
    for forbidden in ("<img", "<script", "<iframe", "onerror=", "<svg", "<style", "javascript:\""):
        assert forbidden not in html.lower()
