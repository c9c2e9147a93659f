"""Networks: autoencoder, velocity UNet, domain classifier, shared layers."""
