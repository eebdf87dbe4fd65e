"""Repository context: which code from the rest of the workspace goes into a prompt.

`languages/` knows each supported language's structure (a module per family, registered in
`languages/__init__.py`), `symbols` is what is kept of a file's structure, `index/` keeps a
background index of the workspace current, `retrieval/` chooses, ranks and packs the snippets
for one completion (`gather`), and `settings` holds the `repository.*` settings.
"""
