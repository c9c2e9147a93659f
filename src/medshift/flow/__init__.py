"""Flow matching: one time convention for the whole project.

t = 0 is noise, t = 1 is data. With x0 ~ N(0, I), x1 a data latent and sigma_min s:
    x_t = t x1 + (1 - (1 - s) t) x0,     target velocity u = x1 - (1 - s) x0.
Integrating dx/dt = v from 1 down to tau inverts an image to the shared intermediate
latent; integrating from tau up to 1 with another label generates in the target class.
"""
