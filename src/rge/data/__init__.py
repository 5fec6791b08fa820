"""rge.data"""
