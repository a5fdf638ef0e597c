"""lidtool.nnet"""
