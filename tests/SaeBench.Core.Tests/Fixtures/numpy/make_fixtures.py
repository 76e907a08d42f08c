"""Writes the Gemma Scope-style params.npz fixtures with NumPy itself (run once; the outputs are committed).

    /usr/bin/python3 make_fixtures.py      # NumPy 1.24.2 wrote the committed files

d_in = 4, d_sae = 6. Every value is a small dyadic fraction, exact in float16, float32 and float64:
    W_enc[i, j]  = (6 i + j - 11) / 8      shape (4, 6)
    W_dec[j, i]  = (4 j + i - 10) / 16     shape (6, 4)
    b_enc[j]     = (j - 2) / 4             shape (6,)
    b_dec[i]     = (2 i - 3) / 4           shape (4,)
    threshold[j] = j / 4                   shape (6,)
savez/params.npz:            numpy.savez (zip entries stored), every array float32.
savez_compressed/params.npz: numpy.savez_compressed (zip entries deflated), b_dec float16, threshold float64, others float32.
"""
import os

import numpy as np

i = np.arange(4)[:, None]
j = np.arange(6)[None, :]
w_enc = ((6 * i + j - 11) / 8).astype(np.float32)
w_dec = ((4 * j.T + i.T - 10) / 16).astype(np.float32)
b_enc = ((np.arange(6) - 2) / 4).astype(np.float32)
b_dec = ((2 * np.arange(4) - 3) / 4).astype(np.float32)
threshold = (np.arange(6) / 4).astype(np.float32)

here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(os.path.join(here, "savez"), exist_ok=True)
os.makedirs(os.path.join(here, "savez_compressed"), exist_ok=True)
np.savez(os.path.join(here, "savez", "params.npz"), W_enc=w_enc, W_dec=w_dec, b_enc=b_enc, b_dec=b_dec, threshold=threshold)
np.savez_compressed(os.path.join(here, "savez_compressed", "params.npz"), W_enc=w_enc, W_dec=w_dec, b_enc=b_enc,
                    b_dec=b_dec.astype(np.float16), threshold=threshold.astype(np.float64))
