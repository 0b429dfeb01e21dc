"""mailer: newsletters and meeting invitations for a network of libraries."""

__version__ = "0.1.0"
