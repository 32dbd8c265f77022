"""The Excel function catalogue (CQ_*): thin wrappers over ``pricing``.

Populated by the Excel catalogue issue; the import direction is ``addin -> udfs -> pricing``.
"""
