"""mailer: newsletters and meeting invitations for a network of libraries."""

# The one place the version is written: the package's metadata (pyproject.toml) and every
# calendar's PRODID take it from here.
__version__ = "0.1.0"
