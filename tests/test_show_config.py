"""plots.show_config: the training chapters' compact config summary."""

from genlab import plots
from genlab.models import dcgan


def test_show_config_lists_changed_parameters_and_folds_the_rest():
    config = dcgan.DCGANConfig(epochs=3, lr=1e-3)
    summary = plots.show_config(config)
    html = summary._repr_html_()
    top, rest = html.split("<details>")
    assert "<code>epochs</code>" in top and "<code>lr</code>" in top and "<code>batch_size</code>" not in top
    assert "<code>batch_size</code>" in rest
    assert "2 of" in repr(summary) and f"epochs = 3  (default {dcgan.DCGANConfig().epochs})" in repr(summary)
    assert "0 of" in repr(plots.show_config(dcgan.DCGANConfig()))
