"""PyTorch backend: IR → scope plans → an in-memory nn.Module or readable source."""
