"""Pure core: geometry, sampling, labelling and balancing.

numpy in, numpy out. Nothing here reads or writes files, and nothing here imports
click, tqdm, h5py or torch.
"""
