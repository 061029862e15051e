"""The file browser goes anywhere: parent folder, a typed path with completion, home,
the start folder, and the folder browsed last at the next start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from factory import make_object
from textual.widgets import Input

from dicomtui.core.config.file import load_config
from dicomtui.ui.path_input import complete_path
from ui.tui_helpers import make_app, screen_text, wait_for


def tree_names(app) -> list[str]:  # type: ignore[no-untyped-def]
    tree = app.sender_pane.file_tree
    return [child.data.path.name for child in tree.root.children]


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    (tmp_path / "studies" / "ct-head").mkdir(parents=True)
    (tmp_path / "studies" / "mr-knee").mkdir()
    make_object(tmp_path / "studies" / "ct-head" / "IM0001.dcm")
    (tmp_path / "elsewhere" / "deep").mkdir(parents=True)
    make_object(tmp_path / "elsewhere" / "deep" / "far.dcm")
    return tmp_path


def test_backspace_goes_to_the_parent_folder_and_marks_stay(folders: Path) -> None:
    start = folders / "studies" / "ct-head"

    async def scenario() -> None:
        app = make_app(start, folders / "inbox", start_receiver=False)
        async with app.run_test(size=(120, 40)) as pilot:
            tree = app.sender_pane.file_tree
            await wait_for(pilot, lambda: tree_names(app) == ["IM0001.dcm"], what="the listing")
            tree.focus()
            await pilot.press("down", "space")  # select IM0001.dcm
            assert tree.marked == {start / "IM0001.dcm"}
            await pilot.press("backspace")
            await wait_for(
                pilot, lambda: tree_names(app) == ["ct-head", "mr-knee"], what="the parent"
            )
            assert tree.folder == folders / "studies"
            await pilot.press("backspace")
            await wait_for(pilot, lambda: "elsewhere" in tree_names(app), what="the grandparent")
            assert tree.marked == {start / "IM0001.dcm"}  # going up unselects nothing
            await pilot.press("full_stop")  # back to the start folder
            await wait_for(pilot, lambda: tree_names(app) == ["IM0001.dcm"], what="the start")

    asyncio.run(scenario())


def test_a_typed_path_with_tab_completion_opens_that_folder(folders: Path) -> None:
    async def scenario() -> None:
        app = make_app(folders / "studies", folders / "inbox", start_receiver=False)
        async with app.run_test(size=(80, 24)) as pilot:
            tree = app.sender_pane.file_tree
            await wait_for(pilot, lambda: tree_names(app), what="the listing")
            tree.focus()
            await pilot.press("slash")
            box = app.query_one("#browse-path", Input)
            assert box.has_focus and box.display
            assert box.value == str(folders / "studies") + "/"
            box.value = str(folders / "elsew")
            box.cursor_position = len(box.value)
            await pilot.press("tab")  # completes the folder's name, does not leave the box
            assert box.has_focus
            assert box.value == str(folders / "elsewhere") + "/"
            await pilot.press("d", "tab", "enter")
            await wait_for(pilot, lambda: tree_names(app) == ["far.dcm"], what="the typed folder")
            assert tree.folder == folders / "elsewhere" / "deep"
            assert not box.display and tree.has_focus
            assert "far.dcm" in screen_text(app)

            # A folder that is not there is said, and the box stays to fix it.
            await pilot.press("slash")
            box.value = str(folders / "nowhere")
            await pilot.press("enter")
            await pilot.pause()
            assert box.display and box.has_focus
            assert tree.folder == folders / "elsewhere" / "deep"
            await pilot.press("escape")
            assert not box.display and tree.has_focus

    asyncio.run(scenario())


def test_the_last_folder_is_remembered_in_the_config_file(
    folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dicomtui.ui.launch import build_parser, config_from_args

    config_file = folders / "config.toml"
    monkeypatch.setenv("DICOMTUI_CONFIG", str(config_file))
    monkeypatch.chdir(folders / "studies")

    async def scenario() -> None:
        from dicomtui.ui.app import DicomTuiApp

        config = config_from_args(build_parser().parse_args(["--no-receiver"]))
        app = DicomTuiApp(config)  # type: ignore[arg-type]
        async with app.run_test(size=(120, 40)) as pilot:
            tree = app.sender_pane.file_tree
            await wait_for(pilot, lambda: tree_names(app), what="the listing")
            tree.focus()
            await pilot.press("slash")
            app.query_one("#browse-path", Input).value = str(folders / "elsewhere")
            await pilot.press("enter")
            await wait_for(pilot, lambda: tree_names(app) == ["deep"], what="the typed folder")
            await pilot.press("ctrl+q")

    asyncio.run(scenario())
    saved, _ = load_config(config_file, *_defaults())
    assert saved.app.last_folder == str(folders / "elsewhere")
    # The next start without a PATH opens it; a PATH given still wins.
    again = config_from_args(build_parser().parse_args([]))
    assert again.browse_path == folders / "elsewhere"  # type: ignore[attr-defined]
    given = config_from_args(build_parser().parse_args([str(folders / "studies")]))
    assert given.browse_path == folders / "studies"  # type: ignore[attr-defined]


def _defaults():  # type: ignore[no-untyped-def]
    from dicomtui.ui.launch import app_defaults

    return app_defaults()


def test_an_absolute_path_typed_after_the_folder_shown_starts_again(folders: Path) -> None:
    """The box starts with the folder shown; a path typed after it from / (or ~)
    is that path, not one inside the folder shown (as in Emacs)."""

    async def scenario() -> None:
        app = make_app(folders / "studies", folders / "inbox", start_receiver=False)
        async with app.run_test(size=(80, 24)) as pilot:
            tree = app.sender_pane.file_tree
            await wait_for(pilot, lambda: tree_names(app), what="the listing")
            tree.focus()
            await pilot.press("slash")
            box = app.query_one("#browse-path", Input)
            box.value += str(folders / "elsewhere" / "deep" / "far.dcm")  # a file: its folder
            await pilot.press("enter")
            await wait_for(pilot, lambda: tree_names(app) == ["far.dcm"], what="the typed folder")
            assert tree.folder == folders / "elsewhere" / "deep"

    asyncio.run(scenario())


def test_hidden_entries_are_not_listed_but_a_typed_path_reaches_them(folders: Path) -> None:
    (folders / "studies" / ".git").mkdir()
    (folders / "studies" / ".dicomtui-incoming-1.part").write_bytes(b"half")
    (folders / "studies" / ".cache").mkdir()
    make_object(folders / "studies" / ".cache" / "kept.dcm")

    async def scenario() -> None:
        app = make_app(folders / "studies", folders / "inbox", start_receiver=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: tree_names(app), what="the listing")
            assert tree_names(app) == ["ct-head", "mr-knee"]
            app.sender_pane.file_tree.focus()
            await pilot.press("slash")
            box = app.query_one("#browse-path", Input)
            box.value += ".cache"
            await pilot.press("enter")
            await wait_for(pilot, lambda: tree_names(app) == ["kept.dcm"], what="the hidden one")

    asyncio.run(scenario())


def test_completion_of_paths(tmp_path: Path) -> None:
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alps").mkdir()
    (tmp_path / "beta").mkdir()
    (tmp_path / "file.txt").write_text("x")
    assert complete_path(str(tmp_path / "b")) == str(tmp_path / "beta") + "/"
    assert complete_path(str(tmp_path / "a")) == str(tmp_path / "alp")  # common start
    assert complete_path(str(tmp_path / "alp")) is None  # two ways on: nothing to add
    assert complete_path(str(tmp_path / "f")) is None  # folders only
    assert complete_path(str(tmp_path / "zzz")) is None
    # Typed from / over the folder the box started with: "/somewhere/else//tmp/.../b".
    assert complete_path("/somewhere/else/" + str(tmp_path / "b")) == str(tmp_path / "beta") + "/"
