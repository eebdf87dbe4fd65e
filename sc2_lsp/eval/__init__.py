"""`sc2-lsp eval`: completion quality and latency, measured through the real completion path.

`tasks` (a masked line, its metrics), the suites that make tasks (`humaneval`: HumanEval's
canonical solutions, executed in the `sandbox` for pass@1; `repo`: sampled lines of a
workspace, with repository context), `runner` (one arm through the completer and engine),
`run` (a whole evaluation) and `report` (JSON and Markdown). Importing the package itself
loads nothing, so the command line can name its errors and choices cheaply.
"""
