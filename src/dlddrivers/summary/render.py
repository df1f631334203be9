"""Rendering the summary markdown as a standalone, safe HTML page."""

from __future__ import annotations

HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em;
       font-size: 14px; line-height: 1.35; color: #222; }
h3 { font-size: 1.02em; margin: 0.7em 0 0.2em; }
p, ul { margin: 0.3em 0; }
table { border-collapse: collapse; margin: 0.4em 0; font-size: 0.85em; display: block;
        max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.1em 0.4em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
code { background: #f5f5f5; padding: 0 0.2em; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; margin: 1em 0 0.3em; }
"""


#: URL schemes a link or image in the generated page may use (plus relative links).
SAFE_URL_SCHEMES = ("http", "https", "mailto")


def _convert(md: str, *, strip_links: bool = False) -> str:
    """Markdown -> HTML body (python-markdown with tables); raw HTML escaped, unsafe URL
    schemes removed; with ``strip_links`` images are dropped and links become their text."""
    import urllib.parse

    import markdown
    from markdown.treeprocessors import Treeprocessor

    class _SafeUrls(Treeprocessor):
        def run(self, root):  # noqa: ANN001, ANN202 - markdown API
            for el in root.iter():
                for attr in ("href", "src"):
                    url = el.get(attr)
                    if url is None:
                        continue
                    scheme = urllib.parse.urlsplit(url.strip()).scheme.lower()
                    if scheme and scheme not in SAFE_URL_SCHEMES:
                        el.set(attr, "")
            if strip_links:
                for parent in list(root.iter()):
                    for el in list(parent):
                        if el.tag == "img":
                            parent.remove(el)
                        elif el.tag == "a":  # the link's text stays, as code
                            el.tag = "code"
                            el.attrib.clear()
            return None

    conv = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
    conv.preprocessors.deregister("html_block")  # raw HTML blocks become escaped text
    conv.inlinePatterns.deregister("html")  # ... and inline tags too
    conv.treeprocessors.register(_SafeUrls(conv), "safe_urls", 0)
    return conv.convert(md)


def markdown_to_html(md: str, title: str = "DLD drivers: summary of results") -> str:
    """A standalone HTML page from the summary markdown (python-markdown with tables).

    Text from config and catalogue (labels, descriptions, notes, unit names) reaches the
    page as text: raw HTML in the markdown is escaped, never passed through, and a link or
    image whose URL has a scheme other than :data:`SAFE_URL_SCHEMES` (e.g. ``javascript:``)
    loses that URL.
    """
    import html

    body = _convert(md)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


#: :data:`HTML_STYLE` scoped to the report's front-page fragment.
FRONT_STYLE = """
.dld-summary { width: 1000px; max-width: calc(100vw - 320px); font-size: 14px; line-height: 1.35; }
.dld-summary h3 { font-size: 1.02em; margin: 0.7em 0 0.2em; }
.dld-summary p, .dld-summary ul { margin: 0.3em 0; }
.dld-summary table { border-collapse: collapse; margin: 0.4em 0; font-size: 0.85em; display: block;
                     max-width: 100%; overflow-x: auto; }
.dld-summary th, .dld-summary td { border: 1px solid #ccc; padding: 0.1em 0.4em; text-align: left;
                                   vertical-align: top; }
.dld-summary th { background: #f0f0f0; }
.dld-summary code { background: #f5f5f5; padding: 0 0.2em; }
.dld-summary code::before, .dld-summary code::after { content: none; }
.dld-summary h2 { border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; margin: 1em 0 0.3em; }
"""


#: Marks the end of the studies' first pages in the summary markdown.
DETAILS_HEADING = "\n# Details\n"


def front_page_fragment(md: str) -> str:
    """The studies' first pages of the summary (up to ``# Details``) as an HTML fragment for
    the front page of the Snakemake report: the same text, tables and headings, without
    images and with links shown as file names (the report embeds no files by relative path).
    Styles are scoped to ``div.dld-summary`` so the report's own look is untouched."""
    head = md.split(DETAILS_HEADING, 1)[0]
    style = " ".join(FRONT_STYLE.split())
    return (f"<div class=\"dld-summary\"><style>{style}</style>\n{_convert(head, strip_links=True)}\n"
            "<p><em>The details of every study (coverage, drivers, agreement, caveats, figures) are in "
            "the item \"1 Summary\" and in <code>summary.html</code> beside this report.</em></p></div>\n")
