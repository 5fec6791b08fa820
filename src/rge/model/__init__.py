"""rge.model"""
