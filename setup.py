import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    (HERE / "piw_monitor" / "__init__.py").read_text(), re.M).group(1)

setup(
    name="piw-monitor",
    version=VERSION,
    description="A terminal console for a piwheels master and its build slaves",
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    author="The piw-monitor developers",
    packages=find_packages(include=["piw_monitor", "piw_monitor.*"]),
    python_requires=">=3.11",
    install_requires=[
        "pyzmq>=24",
        "urwid>=5.0",
        "configargparse>=1.5",
        "cbor2>=5.4,<7",
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "pytest-timeout>=2",
            "pexpect>=4.8",
            "pyte>=0.8",
            "hypothesis>=6",
        ],
        "doc": ["sphinx>=7"],
    },
    entry_points={
        "console_scripts": [
            "piw-monitor = piw_monitor.app:main",
            "piw-demo-master = piw_monitor.demo:main",
        ],
    },
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Environment :: Console :: Curses",
        "Intended Audience :: System Administrators",
        "License :: OSI Approved :: BSD License",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
        "Topic :: System :: Monitoring",
    ],
)
