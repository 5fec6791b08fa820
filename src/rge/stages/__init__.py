"""rge.stages"""
