"""Settings for repository context: what the workspace index may read and how the budget is split.

Owns `RepoContextSettings` and its product defaults (ignore lists, secret-file patterns, the
share of the context budget each source gets).  Pure data: nothing here touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass

# Directories and files that are never useful context, whatever `.gitignore` says.  They are
# gitignore-style patterns matched against workspace-relative paths.
DEFAULT_BUILTIN_IGNORE: tuple[str, ...] = (
    ".git/",
    ".hg/",
    ".svn/",
    ".jj/",
    "node_modules/",
    "bower_components/",
    "__pycache__/",
    ".venv/",
    "venv/",
    ".tox/",
    ".nox/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".hypothesis/",
    ".eggs/",
    "*.egg-info/",
    ".gradle/",
    ".idea/",
    ".vs/",
    ".next/",
    ".nuxt/",
    ".cache/",
    ".terraform/",
    "*.min.js",
    "*.min.css",
    "*.map",
    "*.bundle.js",
    "*.chunk.js",
    "*.lock",
    "package-lock.json",
    "pnpm-lock.yaml",
    "go.sum",
    "*_pb2.py",
    "*_pb2_grpc.py",
    "*.pb.go",
    "*.pb.cc",
    "*.pb.h",
    "*.g.dart",
    "*.generated.*",
    "*_generated.*",
)

# Files that may hold credentials.  Never read, never indexed, never shown to the model even
# when the user has them open.
DEFAULT_SECRET_PATTERNS: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.gpg",
    "*.asc",
    "*.crt",
    "*.cer",
    "*.der",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.ppk",
    "credentials",
    "credentials*.json",
    "credentials*.yaml",
    "credentials*.yml",
    "*credentials.json",
    "client_secret*.json",
    "service-account*.json",
    "*serviceaccount*.json",
    "secrets.*",
    "*.secret",
    "*.secrets",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".yarnrc",
    ".yarnrc.yml",
    ".pypirc",
    ".pgpass",
    ".htpasswd",
    ".git-credentials",
    ".dockercfg",
    ".ssh/",
    ".gnupg/",
    ".aws/",
    ".docker/config.json",
    ".kube/config",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfvars",
)


@dataclass(frozen=True)
class RepoContextSettings:
    """How the workspace index reads files and how `gather` spends its token budget.

    Budget shares are fractions of the context budget reserved for each source, taken in the
    order import → definition → recent → similar; what one source leaves unused flows to the next.
    At a member completion the receiver's members come first, with `share_members` of the
    budget, and the four shares apply to what they leave.
    """

    enabled: bool = True
    """Index the workspace and add repository context."""
    max_file_bytes: int = 1_000_000
    """Larger files are not indexed."""
    ignore: tuple[str, ...] = ()
    """Extra gitignore-style patterns, on top of `.gitignore`, `.git/info/exclude` and
    `builtinIgnore`."""
    builtin_ignore: tuple[str, ...] = DEFAULT_BUILTIN_IGNORE
    """Never useful as context, whatever `.gitignore` says: dependency and cache folders, lock,
    minified and generated files."""
    secret_patterns: tuple[str, ...] = DEFAULT_SECRET_PATTERNS
    """Files that may hold credentials: never read, never indexed, never shown to the model, and
    never completed in (matched at any depth, also outside the workspace)."""
    max_files: int = 20_000
    """Stop indexing after this many files."""
    max_line_length: int = 1_000
    """A line longer than this marks a file as minified or generated data, not source."""
    max_average_line_length: int = 200
    """So does an average line longer than this."""
    share_members: float = 0.60
    """At a member completion (`obj.`, `self.`, `module.`), the share of the context budget for
    the members of what the receiver is (its module, class and base classes), listed as
    signatures first."""
    share_import: float = 0.40
    """Share of the context budget (of what the members left) for definitions the file imports;
    unused budget flows to the next source."""
    share_definition: float = 0.25
    """Share for definitions of other names near the cursor."""
    share_recent: float = 0.20
    """Share for recently edited code."""
    share_similar: float = 0.15
    """Share for similar code in open and recent files."""
    similar_window_lines: int = 20
    """Lines per window of the similarity search (and lines before the cursor it is matched to)."""
    similar_min_score: float = 0.15
    """Windows less similar than this (Jaccard of identifiers) are not shown."""
    similar_max_files: int = 10
    """Open and recently touched files the similarity search looks at."""
    recent_chunk_lines: int = 24
    """Lines kept around each recent edit."""
    recent_max_chunks: int = 16
    """Recent edits remembered."""
    cursor_context_lines: int = 60
    """Identifiers this many lines around the cursor decide which definitions are wanted."""
    max_definition_lines: int = 80
    """A definition longer than this is only ever shown as its signature or outline."""
    max_ambiguous_definitions: int = 3
    """A name defined in more files than this is too ambiguous to guess its definition from."""
