"""lidtool.train"""
