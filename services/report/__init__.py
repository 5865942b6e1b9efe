"""The partnership review: a client-facing report of one period (issue 15).

`build` turns a client's classifier state into a `Report` (pure, event time only);
`render` makes it HTML with inline SVG charts; `pdf` makes that HTML a PDF.
"""
