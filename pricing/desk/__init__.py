"""The desk service: what every host (FIX, Block RFQ, CLI, Excel) quotes and trades through."""
