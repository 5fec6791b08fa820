"""rge.rationale"""
