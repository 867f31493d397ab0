"""One module per paper, each with the same parts. Details: docs/modules.md."""
