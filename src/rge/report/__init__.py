"""rge.report"""
