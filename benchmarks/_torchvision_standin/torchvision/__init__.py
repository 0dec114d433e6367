"""Benchmark-only stand-in for the parts of torchvision facenet-pytorch's MTCNN imports
(torchvision is not installed here). Put on sys.path by benchmarks/_facenet_peer.py only."""
