"""Built-in architecture name -> the module that registers it (written by
`python -m cnncost.zoo.registry`; tests/sweeps/test_sweep.py checks it is complete and current).
A YAML spec in specs/ is "specs"."""

_BY_MODULE: dict[str, tuple[str, ...]] = {
    'cnncost.zoo.convnext': (
        'convnext-base', 'convnext-large', 'convnext-small', 'convnext-tiny',
    ),
    'cnncost.zoo.densenet': (
        'densenet121', 'densenet161', 'densenet169', 'densenet201',
    ),
    'cnncost.zoo.efficientnet': (
        'efficientnet-b0', 'efficientnet-b1', 'efficientnet-b2', 'efficientnet-b3', 'efficientnet-b4',
        'efficientnet-b5', 'efficientnet-b6', 'efficientnet-b7',
    ),
    'cnncost.zoo.efficientnet_v2': (
        'efficientnet-b0-tv', 'efficientnet-b1-tv', 'efficientnet-b2-tv', 'efficientnet-b3-tv',
        'efficientnet-b4-tv', 'efficientnet-b5-tv', 'efficientnet-b6-tv', 'efficientnet-b7-tv',
        'efficientnet-v2-l', 'efficientnet-v2-m', 'efficientnet-v2-s',
    ),
    'cnncost.zoo.inception': (
        'inception-resnet-v2', 'inception-v3', 'inception-v3-aux', 'inception-v3-tv', 'inception-v4',
    ),
    'cnncost.zoo.mnasnet': (
        'mnasnet0-5', 'mnasnet0-75', 'mnasnet1-0', 'mnasnet1-3',
    ),
    'cnncost.zoo.mobilenet': (
        'mobilenet-v1', 'mobilenet-v1-0.5', 'mobilenet-v1-0.25', 'mobilenet-v1-0.75', 'mobilenet-v2',
        'mobilenet-v2-0.5', 'mobilenet-v2-0.75', 'mobilenet-v2-1.4',
    ),
    'cnncost.zoo.mobilenet_v3': (
        'mobilenet-v3-large', 'mobilenet-v3-small',
    ),
    'cnncost.zoo.parnet': (
        'parnet-l', 'parnet-m', 'parnet-s', 'parnet-xl',
    ),
    'cnncost.zoo.regnet': (
        'regnet-x-1-6gf', 'regnet-x-3-2gf', 'regnet-x-8gf', 'regnet-x-16gf', 'regnet-x-32gf',
        'regnet-x-400mf', 'regnet-x-800mf', 'regnet-y-1-6gf', 'regnet-y-3-2gf', 'regnet-y-8gf',
        'regnet-y-16gf', 'regnet-y-32gf', 'regnet-y-128gf', 'regnet-y-400mf', 'regnet-y-800mf',
    ),
    'cnncost.zoo.resnet': (
        'resnet18', 'resnet34', 'resnet50', 'resnet50-b', 'resnet50-c', 'resnet50-d', 'resnet50-tv',
        'resnet101', 'resnet101-tv', 'resnet152', 'resnet152-tv', 'resnext50-1x64d', 'resnext50-2x40d',
        'resnext50-4x24d', 'resnext50-8x14d', 'resnext50-32x4d', 'resnext101-32x8d', 'se-resnet50',
        'se-resnext50-32x4d', 'senet154', 'seresnet50-timm', 'wide-resnet50-2', 'wide-resnet101-2',
        'wrn-16-8', 'wrn-28-10', 'wrn-40-4',
    ),
    'cnncost.zoo.segmentation': (
        'deeplabv3-mobilenet-v3-large', 'deeplabv3-resnet50', 'deeplabv3-resnet101', 'fcn-resnet50',
        'fcn-resnet101', 'lraspp-mobilenet-v3-large',
    ),
    'cnncost.zoo.shufflenet': (
        'shufflenet-v2-x0-5', 'shufflenet-v2-x1-0', 'shufflenet-v2-x1-5', 'shufflenet-v2-x2-0',
    ),
    'cnncost.zoo.squeezenet': (
        'squeezenet1-0', 'squeezenet1-1',
    ),
    'cnncost.zoo.tv_twins': (
        'resnext101-64x4d', 'vgg11-bn-tv', 'vgg11-tv', 'vgg13-bn-tv', 'vgg13-tv', 'vgg16-bn-tv', 'vgg16-tv',
        'vgg19-bn-tv', 'vgg19-tv',
    ),
    'cnncost.zoo.vgg': (
        'vgg11', 'vgg11-bn', 'vgg13', 'vgg13-bn', 'vgg16', 'vgg16-bn', 'vgg19', 'vgg19-bn',
    ),
    'specs': (
        'alexnet', 'alexnet-grouped', 'alexnet-tv', 'block-basic', 'block-bottleneck',
        'block-bottleneck-narrow', 'block-conv3x3', 'block-depthwise-separable', 'block-grouped-conv3x3',
        'block-inverted-residual', 'block-resnext', 'block-se-bottleneck', 'googlenet', 'googlenet-tv',
        'inception', 'inception-naive', 'unet', 'zfnet',
    ),
}
INDEX: dict[str, str] = {name: module for module, names in _BY_MODULE.items() for name in names}
