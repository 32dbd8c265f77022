"""The desk's application service: market sources (bundled, file, live feed), the book, quoting."""
