"""The gallery's 3D viewers for what `<model-viewer>` cannot show: Gaussian splats (3DGS `.ply`, `.splat`,
`.ksplat`, `.spz`) in @mkkellogg/gaussian-splats-3d, point clouds / `.obj` / `.stl` in three.js.

No viewer code is in this repository: each file is pinned by version and sha384 (computed from the npm
registry's tarball, which jsDelivr serves byte for byte), loaded from the CDN through an import map that
carries the integrity of every module, or copied at run time from the npm registry (`--offline-viewers`)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from spacechain.tools import SpacechainError

THREE = ("three", "0.170.0")
SPLATS = ("@mkkellogg/gaussian-splats-3d", "0.4.7")
# import-map name → (package, file in the package, sha384 of that file)
FILES = {
    "three": (THREE, "build/three.module.min.js", "IDC7sAMAIMB/TZ6dgKKPPAKZ2bXXXP8+FBMBC8cU319eBhKITx+PaalhfDkDNH28"),
    "sc/orbit": (
        THREE,
        "examples/jsm/controls/OrbitControls.js",
        "aJoe4qqS/DgF2jh9njAuvA6QIveJYoCuYOfYjdFY8P3eawzmc9bEQ40jq2TvOyuP",
    ),
    "sc/ply": (
        THREE,
        "examples/jsm/loaders/PLYLoader.js",
        "Xx0Q+bITFlS4rDo0NyQpcneUFKkZA6VB0NqNDzC9FpgnZBfAo++gH5KFjkipha1Q",
    ),
    "sc/obj": (
        THREE,
        "examples/jsm/loaders/OBJLoader.js",
        "RKqc/KL7HrXk9eZXJ3lGhyR3x7c1FYpZUuvbF33bV7CwKDjRzddX4JsSu/bxlfAE",
    ),
    "sc/stl": (
        THREE,
        "examples/jsm/loaders/STLLoader.js",
        "1EfRoRFlW0okJLwii+CC5clEMVSDeI/MFRIPbyUpGQnNQP+Szo3cgWrhC6r9rHBg",
    ),
    "sc/splats": (
        SPLATS,
        "build/gaussian-splats-3d.module.js",
        "DQVu71SUzpCfnf47PQBML4SmJum9lfByrWl+Xpp3n3jjVbBIfPEzkTOniE2jH+eM",
    ),
}
CDN = "https://cdn.jsdelivr.net/npm/"
ASSETS = "assets/viewers"
MAX_FILE = 20 * 1024 * 1024

# sniffed kind (spacechain.tools.kinds) → the viewer that shows it
VIEWER_OF = {
    "ply-splat": "splat",
    "splat": "splat",
    "ksplat": "splat",
    "spz": "splat",
    "ply-points": "points",
    "ply-mesh": "mesh",
    "obj": "obj",
    "stl": "stl",
}

# Our glue (inline, allowed by its hash): each [data-viewer] element gets its viewer; a failure is a line
# on the card. Nothing from the manifest is in it: the file comes from the element's data-src.
GLUE = """
const FORMATS = { 'ply-splat': 2, splat: 0, ksplat: 1, spz: 3 };
async function splat(el) {
  const GS = await import('sc/splats');
  const viewer = new GS.Viewer({ rootElement: el, sharedMemoryForWorkers: false, gpuAcceleratedSort: false,
    initialCameraPosition: [0, 0, 3], initialCameraLookAt: [0, 0, 0], cameraUp: [0, 1, 0] });
  await viewer.addSplatScene(el.dataset.src, { format: FORMATS[el.dataset.kind], showLoadingUI: false,
    progressiveLoad: false });
  viewer.start();
}
async function mesh(el) {
  const THREE = await import('three');
  const { OrbitControls } = await import('sc/orbit');
  const kind = el.dataset.viewer;
  const loader = kind === 'obj' ? new (await import('sc/obj')).OBJLoader()
    : kind === 'stl' ? new (await import('sc/stl')).STLLoader() : new (await import('sc/ply')).PLYLoader();
  const loaded = await loader.loadAsync(el.dataset.src);
  let object = loaded;
  if (loaded.isObject3D) { // an OBJ (its .mtl is not loaded): a neutral material, or the vertex colours
    loaded.traverse((m) => {
      const colors = m.isMesh && m.geometry.hasAttribute('color');
      const color = colors ? 0xffffff : 0xb0b8c4;
      if (m.isMesh) m.material = new THREE.MeshStandardMaterial({ vertexColors: colors, color });
    });
  } else {
    const colors = loaded.hasAttribute('color');
    if (kind === 'points') {
      loaded.computeBoundingSphere();
      object = new THREE.Points(loaded, new THREE.PointsMaterial({ size: loaded.boundingSphere.radius / 40,
        vertexColors: colors, color: colors ? 0xffffff : 0x4263eb }));
    } else {
      if (kind === 'stl' || !loaded.hasAttribute('normal')) loaded.computeVertexNormals(); // STL's are often 0
      object = new THREE.Mesh(loaded, new THREE.MeshStandardMaterial({ vertexColors: colors,
        color: colors ? 0xffffff : 0xb0b8c4 }));
    }
  }
  const scene = new THREE.Scene();
  scene.add(object, new THREE.HemisphereLight(0xffffff, 0x444444, 2.5));
  const light = new THREE.DirectionalLight(0xffffff, 2);
  light.position.set(1, 2, 3);
  scene.add(light);
  const box = new THREE.Box3().setFromObject(object);
  const center = box.getCenter(new THREE.Vector3());
  const radius = Math.max(box.getSize(new THREE.Vector3()).length() / 2, 1e-6);
  const camera = new THREE.PerspectiveCamera(45, 1, radius / 100, radius * 100);
  camera.position.copy(center).add(new THREE.Vector3(0.6, 0.5, 1).normalize().multiplyScalar(radius * 2.6));
  const renderer = new THREE.WebGLRenderer({ antialias: true, alpha: true });
  renderer.setPixelRatio(window.devicePixelRatio);
  el.appendChild(renderer.domElement);
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.target.copy(center);
  controls.autoRotate = true;
  const size = () => {
    const w = el.clientWidth, h = el.clientHeight;
    renderer.setSize(w, h);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
  };
  new ResizeObserver(size).observe(el);
  size();
  renderer.setAnimationLoop(() => { controls.update(); renderer.render(scene, camera); });
}
if (location.protocol !== 'file:') {
  for (const el of document.querySelectorAll('[data-viewer]')) {
    (el.dataset.viewer === 'splat' ? splat(el) : mesh(el)).then(() => { el.dataset.state = 'shown'; }, (e) => {
      el.dataset.state = 'failed';
      const p = document.createElement('p');
      p.className = 'warning';
      p.textContent = 'The 3D viewer could not show this file: ' + e;
      el.replaceChildren(p);
    });
  }
}
"""


# Pinned <model-viewer> (3D), loaded only when the run made a 3D model. Version from
# `npm view @google/model-viewer version`; the hash is of the file in the npm tarball:
#   npm pack @google/model-viewer@4.4.0 && tar xzf google-model-viewer-4.4.0.tgz
#   openssl dgst -sha384 -binary package/dist/model-viewer.min.js | openssl base64 -A
# jsDelivr serves the npm bytes unchanged, so the browser's integrity check passes.
MODEL_VIEWER_VERSION = "4.4.0"
MODEL_VIEWER_URL = f"https://cdn.jsdelivr.net/npm/@google/model-viewer@{MODEL_VIEWER_VERSION}/dist/model-viewer.min.js"
MODEL_VIEWER_SRI = "sha384-wjsPzEO+lXOf7d9csIDfAQpPt2OKuUU3m0K9qsdKIuzX4N8czSF6hdh23eAbZa3p"
MODEL_VIEWER_ENV = "SPACECHAIN_MODEL_VIEWER"
VIEWERS_ENV = "SPACECHAIN_VIEWERS"
LOCAL_MODEL_VIEWER = "assets/model-viewer.min.js"
VIEWER_MAX = 20 * 1024 * 1024


class ViewerError(SpacechainError):
    kind = "viewer"


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def offline_model_viewer(cache_dir: Path | None = None) -> Path:
    """The pinned model-viewer.min.js as a local file, for `--offline-viewers`: a copy kept in the user's
    cache, else the package fetched from the npm registry (`npm pack`); either is checked against the pinned
    hash, so the offline page runs the same bytes the CDN page would."""
    from spacechain.agent.run import write_file
    from spacechain.tools.files import own_dir

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = (cache_dir or base / "spacechain" / "viewers") / f"model-viewer-{MODEL_VIEWER_VERSION}.min.js"
    if target.is_file() and sri(target.read_bytes()) == MODEL_VIEWER_SRI:
        return target
    npm = shutil.which("npm")
    if not npm:
        raise ViewerError(
            "--offline-viewers needs npm to fetch the 3D viewer (install Node.js), or use --model-viewer."
        )
    package = f"@google/model-viewer@{MODEL_VIEWER_VERSION}"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(
                [npm, "pack", package, "--pack-destination", tmp, "--silent"],
                capture_output=True,
                timeout=180,
                check=True,
            )
            tgz = next(Path(tmp).glob("*.tgz"))
            with tarfile.open(tgz) as tar:
                member = tar.extractfile("package/dist/model-viewer.min.js")
                data = member.read(VIEWER_MAX + 1) if member else b""
        except (OSError, subprocess.SubprocessError, StopIteration, tarfile.TarError, KeyError):
            raise ViewerError(
                f"Could not fetch {package} from the npm registry; check the network or give --model-viewer FILE."
            ) from None
    if sri(data) != MODEL_VIEWER_SRI:
        raise ViewerError(f"{package} from the npm registry does not match the pinned hash; not used.")
    own_dir(target.parent)
    return write_file(target, data)


def script_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _cdn_url(name: str) -> str:
    (package, version), path, _ = FILES[name]
    return f"{CDN}{package}@{version}/{path}"


def _local_name(name: str) -> str:
    return f"{ASSETS}/{os.path.basename(FILES[name][1])}"


def page_scripts(local: bool) -> tuple[str, str]:
    """(the <script> tags, their CSP script-src sources): an import map with the integrity of each file,
    then our glue; from the run's assets/ when `local`, else from the pinned CDN URLs."""
    urls = {name: "./" + _local_name(name) if local else _cdn_url(name) for name in FILES}
    importmap = json.dumps(
        {"imports": urls, "integrity": {urls[n]: "sha384-" + FILES[n][2] for n in FILES}}, separators=(",", ":")
    )
    tags = f'<script type="importmap">{importmap}</script>\n<script type="module">{GLUE}</script>'
    origins = " 'self'" if local else f" {CDN}{THREE[0]}@{THREE[1]}/ {CDN}{SPLATS[0]}@{SPLATS[1]}/"
    return tags, f" {script_hash(importmap)} {script_hash(GLUE)}{origins}"


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spacechain" / "viewers"


def fetch(names: dict[str, tuple[tuple[str, str], str, str]], cache: Path | None = None) -> dict[str, Path]:
    """name → a local copy of each pinned file: kept in the user's cache, else fetched with `npm pack` from
    the npm registry; each checked against its pinned hash (a changed copy is never used)."""
    from spacechain.agent.run import write_file
    from spacechain.tools.files import own_dir

    folder = cache or _cache_dir()
    out: dict[str, Path] = {}
    for name, ((package, version), path, digest) in names.items():
        target = folder / f"{package.replace('/', '+')}@{version}" / path
        if not (target.is_file() and sri(target.read_bytes()) == "sha384-" + digest):
            data = _npm_file(package, version, path)
            if sri(data) != "sha384-" + digest:
                raise ViewerError(
                    f"{package}@{version} from the npm registry does not match the pinned hash; not used."
                )
            own_dir(target.parent)
            write_file(target, data)
        out[name] = target
    return out


def _npm_file(package: str, version: str, path: str) -> bytes:
    npm = shutil.which("npm")
    if not npm:
        raise ViewerError(
            "--offline-viewers needs npm to fetch the 3D viewers (install Node.js), or use --model-viewer."
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(
                [npm, "pack", f"{package}@{version}", "--pack-destination", tmp, "--silent"],
                capture_output=True,
                timeout=180,
                check=True,
            )
            with tarfile.open(next(Path(tmp).glob("*.tgz"))) as tar:
                member = tar.extractfile(f"package/{path}")
                data = member.read(MAX_FILE + 1) if member else b""
        except (OSError, subprocess.SubprocessError, StopIteration, tarfile.TarError, KeyError):
            raise ViewerError(
                f"Could not fetch {package}@{version} from the npm registry; "
                "check the network or drop --offline-viewers."
            ) from None
    return data


def offline_viewers(cache: Path | None = None) -> Path:
    """The folder holding local copies of every pinned viewer file (for write_gallery(viewers=...))."""
    fetch(FILES, cache)
    return cache or _cache_dir()


def copy_into(run_dir: Path, viewers: Path) -> None:
    """Copy the checked viewer files from `viewers` (see offline_viewers) into `<run_dir>/assets/viewers/`."""
    from spacechain.agent.run import write_file
    from spacechain.tools.files import own_dir

    own_dir(run_dir / "assets")
    own_dir(run_dir / ASSETS)
    for name, path in fetch(FILES, viewers).items():
        write_file(run_dir / _local_name(name), path.read_bytes())


def viewer_scripts(
    run_dir: Path, kinds: set[str], model_viewer: str | None = None, viewers: str | os.PathLike | None = None
) -> tuple[str, str]:
    """(the <script> tags, their CSP script-src sources) for the viewers a page's cards need: model-viewer for
    glTF ("model" cards), the splat and mesh viewers for other 3D files ("model3d"). A local `model_viewer`
    (else $SPACECHAIN_MODEL_VIEWER) and `viewers` folder (else $SPACECHAIN_VIEWERS) are copied into the run
    folder so the page needs no network; without them the page loads the pinned CDN copies."""
    from spacechain.agent.run import write_file
    from spacechain.tools.files import own_dir

    script, script_src = "", ""
    if "model" in kinds:
        model_viewer = model_viewer or os.environ.get(MODEL_VIEWER_ENV) or None
        if model_viewer:
            # Never through a link planted in the run folder (assets/ or the file itself).
            own_dir((run_dir / LOCAL_MODEL_VIEWER).parent)
            write_file(run_dir / LOCAL_MODEL_VIEWER, Path(model_viewer).read_bytes())
            script, script_src = f'<script type="module" src="{LOCAL_MODEL_VIEWER}"></script>', " 'self'"
        else:
            script = (
                f'<script type="module" src="{MODEL_VIEWER_URL}" integrity="{MODEL_VIEWER_SRI}" '
                'crossorigin="anonymous"></script>'
            )
            script_src = " " + MODEL_VIEWER_URL
    if "model3d" in kinds:
        viewers = viewers or os.environ.get(VIEWERS_ENV) or None
        if viewers:
            copy_into(run_dir, Path(viewers))
        tags, sources = page_scripts(local=bool(viewers))
        script, script_src = tags + "\n" + script, sources + script_src
    if kinds & {"model", "model3d"}:
        script_src += " 'wasm-unsafe-eval'"  # model-viewer and the splat sorter compile WebAssembly
    return script, script_src
