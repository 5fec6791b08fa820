"""rge.evaluate"""
