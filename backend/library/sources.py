"""The pinned data sources: one entry per archive of ``shared/datasets`` (see its README).

Each :class:`~backend.library.upstream.Source` knows two ways to be obtained:

* **archive** (mirror): ``<mirror>/<name>.tar.gz`` (a local folder, or an HTTP base URL serving that folder),
  checked against ``Source.sha256``, the archive's SHA-256 (also listed in the mirror's ``SHA256SUMS``).
* **upstream**: per-file raw URLs at the pinned commit of each upstream repository
  (``https://raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>``). Paths with wildcards are resolved
  through the repository tree at that commit (``https://api.github.com/repos/<owner>/<repo>/git/trees/<commit>
  ?recursive=1``). The mirror leaves out objects of 4 MiB or more, and its archives add a few notes
  (``SOURCE.txt``, licence excerpts); the upstream file set is therefore pinned as *the files the mirror
  holds*, and ``Source.content_sha256`` is the :func:`~backend.library.upstream.content_digest` of exactly
  those files, so an upstream fetch is verified against the same bytes as the mirror.

Nothing here touches the network; URLs are plain strings.
"""

from __future__ import annotations

from backend.errors import InvalidInputError
from backend.library.upstream import Source, Upstream

__all__ = [
    "CMU_ATTRIBUTION",
    "HDM05_LICENCE",
    "MOTION_SOURCES",
    "SOURCES",
    "get_source",
    "select_sources",
]

CMU_ATTRIBUTION = (
    "The data used in this project was obtained from mocap.cs.cmu.edu. "
    "The database was created with funding from NSF EIA-0196217."
)
_CMU_TERMS = "CMU Graphics Lab Motion Capture Database terms"
_BN_REPO = "BandaiNamcoResearchInc/Bandai-Namco-Research-Motiondataset"
_BN_COMMIT = "74ead3ba1ae4696404e6086233779f60de8bf9ef"
_BN_LICENCE = "CC BY-NC 4.0"
#: HDM05 has no licence file upstream; its authors make it free for research with a citation
HDM05_LICENCE = "HDM05 terms (research / non-commercial use, citation required)"


def _bn_attribution(n: int) -> str:
    return (
        f"Bandai-Namco-Research-Motiondataset-{n}, (c) 2022 Bandai Namco Research Inc., licensed under "
        "CC BY-NC 4.0 (https://creativecommons.org/licenses/by-nc/4.0/), "
        "https://github.com/BandaiNamcoResearchInc/Bandai-Namco-Research-Motiondataset. Changes: converted to "
        "22 SMPL joint positions, resampled to 20 fps, re-rooted and re-oriented. Citation: Kobayashi et al. "
        "2023, arXiv:2306.08861. Non-commercial use only."
    )


_BN1 = "dataset/Bandai-Namco-Research-Motiondataset-1"
_BN2 = "dataset/Bandai-Namco-Research-Motiondataset-2"


def _bn_upstream(root: str, exclude: tuple[str, ...] = ()) -> Upstream:
    return Upstream(
        repo=_BN_REPO,
        commit=_BN_COMMIT,
        include=(
            "README.md",
            "README_Japanese.md",
            f"{root}/LICENSE",
            f"{root}/README.md",
            f"{root}/README_Japanese.md",
            f"{root}/cfg/content_label.txt",
            f"{root}/cfg/style_label.txt",
            f"{root}/data/*.bvh",
            f"{root}/data/*.json",
        ),
        exclude=exclude,
    )


_ICLONE_MISSING = tuple(
    f"All_BVH/subjects/{s[:3]}/{s}.bvh"
    for s in (
        "001_02", "001_03", "001_04", "001_05", "001_06", "001_07", "001_09", "001_10", "001_11", "001_12",
        "001_13", "003_03", "003_04", "006_13",
    )
)  # fmt: skip

SOURCES: tuple[Source, ...] = (
    Source(
        name="bandai-namco-1",
        upstreams=(_bn_upstream(_BN1, exclude=(f"{_BN1}/data/dataset-1_dance-long_normal_001.bvh",)),),
        sha256="142a15a53449afc1fc3c046a19d80d9e10baf62750e54e022a528aa01310348f",
        size=9_505_125,
        content_sha256="1b2ab3f2780b4469b629301960705d1aa7e8f192c4516bd48cf9bbe6ee6aca97",
        licence=_BN_LICENCE,
        attribution=_bn_attribution(1),
        dataset_root=_BN1,
        added=("README-license-section.txt",),
    ),
    Source(
        name="bandai-namco-2",
        upstreams=(_bn_upstream(_BN2),),
        sha256="cf335a5a77835316c38b76f2b56439a02b1ba817a9e6df1f661facbb5f2dd941",
        size=118_397_176,
        content_sha256="728c14bbd70f1d3593fb962c2ee59d4a7f1478ad9b9411119545bc790d2967ae",
        licence=_BN_LICENCE,
        attribution=_bn_attribution(2),
        dataset_root=_BN2,
        added=("README-license-section.txt",),
    ),
    Source(
        name="cmu-iclone",
        upstreams=(
            Upstream(
                repo="DragonForgedTheArtist/IClone-CMU-Mocap",
                commit="79529f962ade3274163af53cd92179cee2ed9407",
                include=("All_BVH/subjects/*/*.bvh", "CMU data.csv", "README.md"),
                exclude=_ICLONE_MISSING,
            ),
        ),
        sha256="7dd39884b44313f2ec4ecb47bb82db1e8f5f55a8ef117e51259d3f215fb06a9c",
        size=24_519_478,
        content_sha256="403c1b80450dfd5c96e6ce5dc94f143d0f43fcc7fbe63740695e16596d697424",
        licence=_CMU_TERMS,
        attribution=CMU_ATTRIBUTION + " Conversion: DragonForgedTheArtist/IClone-CMU-Mocap.",
        added=("LICENSE-CMU.txt",),
    ),
    Source(
        name="cmu-cgspeed-s01-09",
        upstreams=(
            Upstream(
                repo="chrystianosaraujo/motion-viewer",
                commit="6d7ca60c300f123528be0fd0939cf7a584a13f65",
                include=("data/*/*.bvh", "README.md"),
            ),
        ),
        sha256="75274a01a41f1e5acf0b3b688c6c39581e53cec6b687fa785cf5962ff2e69d97",
        size=33_178_317,
        content_sha256="b0003376dbfa069ca2bd672ad10d6648119bbc21e4b450370b11f7ad932e9e79",
        licence=_CMU_TERMS,
        attribution=CMU_ATTRIBUTION + " Conversion: B. Hahne (cgspeed), via chrystianosaraujo/motion-viewer.",
        added=("LICENSE-CMU.txt",),
    ),
    Source(
        name="cmu-daz-s02-16",
        upstreams=(
            Upstream(
                repo="Przestr/motion-capture",
                commit="c200c31036a2b8cd2182ddbc85756b2dd79d70d2",
                include=("data/*/*.bvh", "README.md"),
                exclude=tuple(
                    f"data/{t[:2]}/{t}.bvh"
                    for t in ("03_03", "03_04", "13_12", "14_09", "15_01", "15_03", "15_09", "15_14")
                ),
            ),
        ),
        sha256="bd4a367ebf4dd87f70a39ed1ae8b3cfeaa47b51d0902348819c475d9a327bb46",
        size=9_870_021,
        content_sha256="41eeb814e1ddd918e9523d352f96935c54248d440c4c8172ddf13afb8b9df46d",
        licence=_CMU_TERMS,
        attribution=CMU_ATTRIBUTION
        + " Conversion: B. Hahne (cgspeed, Daz-friendly), via Przestr/motion-capture.",
        added=("LICENSE-CMU.txt",),
    ),
    Source(
        name="hdm05-cuts",
        upstreams=(
            Upstream(
                repo="zhangchi8620/JointLearning-HDM05",
                commit="b252ad65598e052c38f49490c1ac9dbadc283fd3",
                include=(
                    *(f"{part}/*/HDM_*.asf" for part in ("train", "test")),
                    *(f"{part}/*/HDM_*.amc" for part in ("train", "test")),
                ),
            ),
        ),
        sha256="b68dbef24d77e7843c95b79555a759ef4605e5fbdb720ca2d8a2b92d7fac8e90",
        size=18_723_701,
        content_sha256="d18008c0b323275829cf8c2e8bda8107c852060c7cd82e8da98cd7695926aeac",
        licence=HDM05_LICENCE,
        attribution=(
            "HDM05 motion capture database (Universitaet Bonn), cut clips via zhangchi8620/JointLearning-HDM05. "
            'Cite M. Mueller, T. Roeder, M. Clausen, B. Eberhardt, B. Krueger, A. Weber: "Documentation Mocap '
            'Database HDM05", Technical Report CG-2007-2, Universitaet Bonn, 2007. Changes: converted to 22 SMPL '
            "joint positions, resampled to 20 fps, re-rooted and re-oriented. Research / non-commercial use only."
        ),
    ),
    Source(
        name="cmu-bvh-samples",
        upstreams=(
            Upstream(
                repo="TMoCo/InverseKinematics",
                commit="0ae4d1fa08c3fb0073b07a96877b14ef9499e4d2",
                include=("bvh/02_01.bvh", "bvh/05_06.bvh"),
                prefix="TMoCo/InverseKinematics/",
            ),
            Upstream(
                repo="VictorS-67/pybvh",
                commit="22a3b51f58e361ee6ac20731a567e0f89dc6aff5",
                include=("bvh_data/cmu_12_01_walk.bvh", "bvh_data/README.md", "LICENSE"),
                prefix="VictorS-67/pybvh/",
            ),
            Upstream(
                repo="yuki-koyama/bvh11",
                commit="c9072174fe89e0bf9776a092179b464ea39975e5",
                include=(
                    "resources/131_01.bvh",
                    "resources/131_02.bvh",
                    "resources/131_03.bvh",
                    "resources/README.md",
                    "LICENSE",
                ),
                prefix="yuki-koyama/bvh11/",
            ),
            Upstream(
                repo="facebookresearch/fairmotion",
                commit="e400e564deac93bb74ffecd9c366d76b3406e217",
                include=("tests/data/01_01.bvh", "LICENSE"),
                prefix="facebookresearch/fairmotion/",
            ),
        ),
        sha256="da71821537f0299b44bd58721c0d02e40a3ba12950c3876ace94310a37897f5c",
        size=2_272_109,
        content_sha256="ce44cdc78f43213424fd3a82daff6c4b9f4e7b411f6bd3ec272f1682b4c5814b",
        licence=_CMU_TERMS,
        attribution=CMU_ATTRIBUTION,
        added=("LICENSE-CMU.txt",),
    ),
    Source(
        name="cmu-index",
        upstreams=(
            Upstream(
                repo="una-dinosauria/cmu-mocap",
                commit="34e1472e5b8c234d40a62bb9cd969b5910fa1803",
                include=("cmu-mocap-index-text.txt",),
                text_files=("cmu-mocap-index-text.txt",),
            ),
        ),
        sha256="b7a9de037e5118205d2712b10fe62e202b5dd281cc142b419360c48c7372b7bf",
        size=18_738,
        content_sha256="b95ebf47ca5352cf6f5d7b78be2071f1f5043aaf85335eb56c0cebcb244c2687",
        licence=_CMU_TERMS,
        attribution=CMU_ATTRIBUTION + " Index compiled by B. Hahne (cgspeed).",
        kind="text",
        added=("LICENSE-CMU.txt",),
    ),
    Source(
        name="reactidle",
        upstreams=(
            Upstream(
                repo="Enekoassets/ReActIdle",
                commit="90b0ac78b205001edf170f65ff372448ccd0f1c7",
                include=("acted/*.bvh", "genuine/*.bvh", "LICENSE.txt", "README.md"),
                exclude=("acted/000_acted.bvh", "acted/015_acted.bvh", "acted/016_acted.bvh"),
            ),
        ),
        sha256="220b01a9637592d451e0ec30582187bef2d344496ce14a1b37c7ccabc7603424",
        size=18_417_048,
        content_sha256="0e93f2044489917097a20c41afff5ed1ac10b7c08809d08a470d2341eb12f48c",
        licence="MIT License",
        attribution=(
            "ReActIdle, Copyright (c) 2025 [RSAIT], MIT License (keep LICENSE.txt with all copies). "
            "Citation: Atxa Landa et al. 2025, arXiv:2509.05023."
        ),
    ),
    Source(
        name="kitml-annotations",
        upstreams=(
            Upstream(
                repo="Mathux/TMR",
                commit="6d74688730d15d43b0a755ce2b0e1f2d76138fc1",
                include=(
                    "datasets/annotations/kitml/annotations.json",
                    *(
                        f"datasets/annotations/kitml/splits/{s}.txt"
                        for s in (
                            "all",
                            "train",
                            "val",
                            "test",
                            "nsim_test",
                            "train_tiny",
                            "val_tiny",
                            "test_tiny",
                        )
                    ),
                    "LICENSE",
                ),
            ),
        ),
        sha256="cb6a4b48d04bc2733bfe88c27a90982354cabf74079956d97a5543ee8925213d",
        size=275_572,
        content_sha256="99bea595ef5677ee55d7224b7a7566c4cadc3aa3c585985ecbbe268b53007789",
        licence="MIT License (TMR repository); KIT-ML sentences: research use with attribution",
        attribution=(
            'Plappert, Mandery, Asfour, "The KIT Motion-Language Dataset", Big Data 2016; sentences via '
            "Mathux/TMR (MIT, keep its LICENSE)."
        ),
        kind="text",
        added=("KITML-SOURCE-NOTE.txt",),
    ),
    Source(
        name="humanml3d-meta",
        upstreams=(
            Upstream(
                repo="EricGuo5513/HumanML3D",
                commit="9176e8fb446b71c7d2a725eb5cf6fec1ae3b3c23",
                include=(
                    "index.csv",
                    *(f"HumanML3D/{s}.txt" for s in ("train", "val", "test", "train_val", "all")),
                    "HumanML3D/Mean.npy",
                    "HumanML3D/Std.npy",
                    "LICENSE",
                ),
            ),
        ),
        sha256="3c26016086c8275025fb2ed64b997924c3fed9357fdd076c0dde68fe3fbf07f1",
        size=390_492,
        content_sha256="55150438012257a006d5f43bc25f0627f3f5a86c81df29de338623356c236f17",
        licence="MIT License (repository, (c) 2022 Chuan Guo)",
        attribution="HumanML3D metadata, MIT (keep LICENSE); cite Guo et al., CVPR 2022.",
        kind="text",
    ),
)

#: Sources that hold motion clips (BVH or ASF/AMC; what ``build-library`` converts).
MOTION_SOURCES: tuple[str, ...] = tuple(s.name for s in SOURCES if s.kind == "motion")


def get_source(name: str) -> Source:
    """The pinned source called ``name``.

    Raises:
        InvalidInputError: unknown name (the message lists the valid ones).
    """
    for source in SOURCES:
        if source.name == name:
            return source
    valid = ", ".join(s.name for s in SOURCES)
    raise InvalidInputError(f"unknown data source {name!r}; valid sources: {valid}")


def select_sources(names: list[str] | tuple[str, ...] | None) -> tuple[Source, ...]:
    """The sources named in ``names`` (all of them when ``names`` is empty or ``None``), in table order."""
    if not names:
        return SOURCES
    wanted = {get_source(n).name for n in names}
    return tuple(s for s in SOURCES if s.name in wanted)
