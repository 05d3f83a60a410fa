"""The safety core: pure, standard library only, time passed in. See ARCHITECTURE safety rules."""
