"""Every label of the local app in Chinese and English (pages, buttons, messages).

Templates call ``t("key", **values)``; the language is the session's (Chinese unless the
reader switched). A missing key is an error at once (``KeyError``), never a blank label.
"""

from __future__ import annotations

from ..analysis.rules import MODE_LABELS, mode_label

__all__ = ["LANGS", "UI", "tr", "travel_text"]

LANGS = ("zh", "en")

UI: dict[str, tuple[str, str]] = {
    # frame
    "app_title": ("geoplan 设施可达性规划", "geoplan facility access planning"),
    "switch_lang": ("English", "中文"),
    "projects": ("项目", "Projects"),
    "footer": (
        "本机运行的应用：数据只保存在本机的项目文件夹中。",
        "A local application: data stays in the project folders on this computer.",
    ),
    # index
    "no_projects": ("还没有项目。", "No projects yet."),
    "new_project": ("新建项目", "New project"),
    "area": ("区域", "Area"),
    "folder": ("文件夹", "Folder"),
    "last_run": ("最近运行", "Last run"),
    "never": ("尚未运行", "not run yet"),
    "open": ("打开", "Open"),
    # new project
    "new_intro": (
        "选择县（区）——按名称或行政区划代码搜索——或上传研究区边界。",
        "Choose the county or district — search by name or adcode — or upload the area's boundary.",
    ),
    "search_place": ("搜索县区（名称或代码）", "Search a county or district (name or adcode)"),
    "search": ("搜索", "Search"),
    "no_match": ("没有找到匹配的地方。", "No place matches."),
    "places_known": ("可选地方：{n} 个", "{n} places to choose from"),
    "places_more": (
        "只列出前 {n} 个；请输入更完整的名称或代码。",
        "Only the first {n} are listed; type more of the name or code.",
    ),
    "places_plans": (
        "附带规划的地方（输入名称或代码搜索其他地方）：",
        "Places whose plans ship with geoplan (search by name or code for others):",
    ),
    "places_all": (
        "可检索全国所有县、区和地级市（行政区划边界：{source}）。",
        "Every county, district and city of China can be searched (boundaries: {source}).",
    ),
    "places_not_yet": (
        "未安装全国县区数据（pip install 'geoplan[counties]'），目前只能选 geoplan 附带规划的 13 "
        "个地方；其他地方请安装后重启，或上传边界。",
        "The registry of every county is not installed (pip install 'geoplan[counties]'): only "
        "the 13 places whose plans ship with geoplan can be chosen; for another place install "
        "it and restart, or upload the boundary.",
    ),
    "places_ambiguous": (
        "“{query}”对应 {n} 个地方，请选择其中一个：",
        "{n} places are called “{query}”: choose one:",
    ),
    "has_plan": ("附带规划", "plan ships"),
    "choose_place": ("选择此地并创建项目", "Create the project for this place"),
    "or_boundary": ("或：上传研究区边界", "Or: upload the area's boundary"),
    "boundary_file": (
        "边界文件（GeoJSON、GeoPackage）",
        "Boundary file (GeoJSON, GeoPackage)",
    ),
    "area_name": ("区域名称", "Area name"),
    "create": ("创建项目", "Create the project"),
    "project_name": ("项目名称（可选）", "Project name (optional)"),
    "created": ("项目已创建：{name}", "Project created: {name}"),
    # steps
    "step_area": ("区域", "Area"),
    "step_facilities": ("设施", "Facilities"),
    "step_inputs": ("路网与人口", "Network and population"),
    "step_rules": ("规则", "Rules"),
    "step_run": ("运行", "Run"),
    "step_results": ("结果", "Results"),
    "done": ("已完成", "done"),
    "todo": ("待完成", "to do"),
    "project_folder": ("项目文件夹", "Project folder"),
    "project_file": ("项目文件（命令行可直接运行）", "Project file (the command line runs it)"),
    "cli_hint": ("命令行重算：", "Rerun on the command line:"),
    "download_zip": ("下载项目文件夹（zip）", "Download the project folder (zip)"),
    "past_runs": ("历次运行", "Past runs"),
    "no_runs": ("还没有运行结果。", "No runs yet."),
    "run_id": ("运行", "Run"),
    "finished": ("完成时间", "Finished"),
    # facilities
    "facilities_intro": (
        "上传一个或多个设施名录（Excel、CSV、GeoJSON、GeoPackage）。运行前在此核对列对应、"
        "类型、质量检查结果和被拒绝的记录。",
        "Upload one or more facility lists (Excel, CSV, GeoJSON, GeoPackage). Check the column "
        "mapping, the types, the quality findings and the rejected rows here before running.",
    ),
    "upload_facilities": ("上传设施文件", "Upload facility files"),
    "upload": ("上传", "Upload"),
    "no_facilities": ("尚未上传设施文件。", "No facility file yet."),
    "records": (
        "读入 {read} 条，使用 {used} 条，拒绝 {rejected} 条",
        "{read} records read, {used} used, {rejected} rejected",
    ),
    "mapping": ("列对应", "Column mapping"),
    "mapping_intro": (
        "每个字段对应文件中的哪一列（已自动识别，可修改）。保存后写入项目文件，命令行运行结果相同。",
        "Which column of the file holds each field (recognised automatically; change it if "
        "wrong). Saved into the project file, so the command line reads the file the same way.",
    ),
    "field": ("字段", "Field"),
    "column": ("文件中的列", "Column in the file"),
    "no_column": ("（无此列）", "(no such column)"),
    "crs": ("坐标系（整个文件）", "Coordinate system (whole file)"),
    "field_facility_id": ("编号", "Facility id"),
    "field_name": ("名称", "Name"),
    "field_grade": ("医院等级", "Hospital grade"),
    "field_ownership": ("经济类型（公立/民营）", "Ownership (public/private)"),
    "field_category": ("类型", "Type (category)"),
    "field_lon": ("经度", "Longitude"),
    "field_lat": ("纬度", "Latitude"),
    "field_lonlat": ("经纬度（一列）", "Lon,lat in one column"),
    "field_address": ("地址", "Address"),
    "field_beds": ("床位数", "Beds"),
    "field_doctors": ("执业（助理）医师数", "Doctors"),
    "field_nurses": ("注册护士数", "Nurses"),
    "field_crs": ("每行的坐标系", "Coordinate system of each row"),
    "sev_error": ("错误", "error"),
    "sev_warning": ("警告", "warning"),
    "sev_info": ("提示", "note"),
    "sheet": ("工作表", "Worksheet"),
    "first_sheet": ("（第一个非空表）", "(the first non-empty sheet)"),
    "unknown_types": ("无法识别的类型", "Types not recognised"),
    "unknown_intro": (
        "这些类型不在设施分类中，对应的行将被拒绝。请为每个类型选择分类（或保持“不对应”）。",
        "These types are not in the facility taxonomy, so their rows are rejected. Choose a "
        "category for each (or keep “not mapped”).",
    ),
    "type_in_file": ("文件中的类型", "Type in the file"),
    "rows": ("行数", "Rows"),
    "suggestion": ("建议", "Suggestion"),
    "category": ("分类", "Category"),
    "not_mapped": ("不对应（这些行不使用）", "not mapped (these rows are not used)"),
    "save_mapping": ("保存列对应与类型", "Save the mapping and types"),
    "mapping_saved": ("已保存：{file}", "Saved: {file}"),
    "qa": ("质量检查", "Quality findings"),
    "qa_none": ("未发现问题。", "No findings."),
    "qa_network_later": (
        "选择路网后还会检查：离道路过远、疑似 GCJ-02/BD-09 坐标。",
        "Once a network is chosen: far from road and GCJ-02/BD-09 suspicion are checked too.",
    ),
    "qa_network_unreadable": (
        "路网无法读取，因此未检查离道路过远与疑似 GCJ-02/BD-09 坐标：",
        "The network cannot be read, so far from road and GCJ-02/BD-09 suspicion were not checked:",
    ),
    "severity": ("级别", "Severity"),
    "check": ("检查项", "Check"),
    "message": ("说明", "Message"),
    "row": ("行", "Row"),
    "name": ("名称", "Name"),
    "rejects": ("被拒绝的记录", "Rejected records"),
    "reason": ("原因", "Reason"),
    "remove": ("删除", "Remove"),
    "removed": (
        "已从项目中移除：{file}（文件仍在项目文件夹中）",
        "Removed from the project: {file} (the file stays in the project folder)",
    ),
    "read_error": ("无法读取：", "Cannot read:"),
    "more_rows": ("另有 {n} 条未显示", "{n} more not shown"),
    "uploaded": ("已上传：{files}", "Uploaded: {files}"),
    # network and population
    "inputs_intro": (
        "选择路网和人口数据：上传文件、选用项目文件夹中已有的文件，或从本机的大文件中裁剪。",
        "Choose the road network and the population: upload files, pick files already in the "
        "project folder, or cut them out of large files on this computer.",
    ),
    "network": ("路网", "Road network"),
    "demand": ("人口", "Population"),
    "current": ("当前", "Current"),
    "not_chosen": ("尚未选择", "not chosen yet"),
    "upload_file": ("上传文件", "Upload a file"),
    "pick_file": ("选用项目文件夹中的文件", "Pick a file in the project folder"),
    "pick": ("选用", "Use it"),
    "no_files": ("项目文件夹中没有此类文件。", "No such file in the project folder."),
    "fetch": ("获取路网与人口（geoplan fetch）", "Get the network and population (geoplan fetch)"),
    "fetch_intro": (
        "从本机已有的大文件中裁剪出本区域（边界外扩一段距离）：省级 OSM 文件（如 Geofabrik 的 "
        ".osm.pbf）和/或人口栅格（GeoTIFF，如 WorldPop）。结果写入项目的 inputs/，"
        "并设为路网和人口。填写完整路径，或相对于项目文件夹的路径。",
        "Cut the area (its boundary plus a buffer) out of large files already on this computer: "
        "a province's OSM file (e.g. Geofabrik's .osm.pbf) and/or a population raster "
        "(GeoTIFF, e.g. WorldPop). The cut goes into the project's inputs/ and becomes the "
        "network and population. Give the full path, or one relative to the project folder.",
    ),
    "fetch_pbf": ("OSM 文件路径（路网）", "OSM file path (network)"),
    "fetch_raster": ("人口栅格路径", "Population raster path"),
    "fetch_buffer": ("边界外扩（米）", "Buffer around the boundary (m)"),
    "fetch_online": ("联网获取", "fetch online"),
    "fetch_online_note": (
        "勾选后不读本机文件，而是联网下载：路网来自 OpenStreetMap 的 Overpass 服务，人口来自 "
        "WorldPop。默认不联网。",
        "Ticked, nothing local is read: the network is downloaded from OpenStreetMap's "
        "Overpass service and the population from WorldPop. Off by default.",
    ),
    "fetch_replace": ("替换上次获取的文件", "replace the earlier fetch"),
    "fetch_replace_note": (
        "inputs/ 中已有上次获取的文件；再次获取会删除它们（包括这次未再获取的）。",
        "inputs/ holds the files of an earlier fetch; fetching again removes them (also those "
        "not fetched again).",
    ),
    "fetch_start": ("开始裁剪 / 获取", "Cut / fetch"),
    "fetch_started": ("已开始获取数据。", "The fetch has started."),
    "fetching": ("正在获取数据……", "Fetching …"),
    "fetch_done": ("获取完成。", "The fetch is done."),
    "fetch_failed": ("获取失败：", "The fetch failed:"),
    "options": ("选项", "Options"),
    "population_column": ("人口字段", "Population column"),
    "group_column": ("人口网格字段（同一网格只计一次）", "Cell column (one cell counted once)"),
    "spacing_m": ("沿街分布间距（米）", "Spread along streets every (m)"),
    "save": ("保存", "Save"),
    "opt_walk_speed_m_per_min": ("步行速度（米/分钟）", "Walking speed (m/min)"),
    "opt_private_ways": ("私有道路", "Private ways"),
    "opt_snap_to_largest_component": ("只接入主路网", "Join only the main network"),
    "opt_format": ("人口数据格式", "Population data format"),
    "opt_population_column": ("人口字段", "Population column"),
    "opt_id_column": ("编号字段", "Id column"),
    "opt_group_column": ("人口格网字段", "Population cell column"),
    "opt_spacing_m": ("沿线居民点间距（米）", "Spacing along lines (m)"),
    "opt_crs": ("x/y 坐标系", "Coordinate system of x/y"),
    "opt_kind": ("栅格值含义", "Raster values"),
    "opt_band": ("栅格波段", "Raster band"),
    "opt_points": ("面内居民点位置", "Residents of a polygon placed at"),
    "chosen": ("已选用：{file}", "Chosen: {file}"),
    "preview": ("预览地图", "Preview map"),
    "preview_intro": (
        "边界、路网、人口与设施。地图不加载在线底图。",
        "Boundary, network, population and facilities; the map loads no online basemap.",
    ),
    "preview_failed": ("预览失败：", "Preview failed:"),
    "legend_boundary": ("边界", "Boundary"),
    "legend_network": ("路网", "Network"),
    "legend_population": ("人口", "Population"),
    "legend_facilities": ("设施", "Facilities"),
    # rules
    "rules_intro": (
        "选择规划的规则包，或用表单添加出行时间圈。",
        "Choose a plan's rule pack, or add travel-time circles with the form.",
    ),
    "current_rules": ("当前规则", "Current rules"),
    "no_rules": ("还没有规则。", "No rules yet."),
    "rule_name": ("名称", "Name"),
    "categories": ("设施类别", "Facility categories"),
    "mode": ("出行方式", "Travel mode"),
    "threshold": ("时间（分钟，含）", "Minutes (inclusive)"),
    "target": ("目标覆盖率（%）", "Target share (%)"),
    "no_target": ("（无目标，仅报告）", "(no target: reported only)"),
    "add_circle": ("添加出行时间圈", "Add a travel-time circle"),
    "name_zh": ("中文名称", "Chinese name"),
    "name_en": ("英文名称", "English name"),
    "add": ("添加", "Add"),
    "rule_added": ("已添加规则：{name}", "Rule added: {name}"),
    "rule_removed": ("已删除规则：{name}", "Rule removed: {name}"),
    "use_pack": ("使用规划的规则包（替换当前规则）", "Use a plan's rule pack (replaces the rules)"),
    "pack": ("规则包", "Rule pack"),
    "apply": ("使用", "Use"),
    "pack_applied": (
        "已使用规则包：{name}（{n} 条出行时间圈）",
        "Rule pack used: {name} ({n} circles)",
    ),
    "pack_no_circles": ("该规则包没有出行时间圈。", "This pack has no travel-time circle."),
    "groups": ("类组", "Groups"),
    # run
    "run_intro": ("检查项目是否完整，然后运行。", "Check that the project is complete, then run."),
    "ready": ("可以运行。", "Ready to run."),
    "missing": ("尚缺：", "Missing:"),
    "start_run": ("开始运行", "Start the run"),
    "running": ("正在运行……", "Running…"),
    "stage": ("阶段", "Stage"),
    "run_failed": ("运行失败：", "The run failed:"),
    "run_done": ("运行完成。", "The run is done."),
    "see_results": ("查看结果", "See the results"),
    "run_busy": (
        "该项目已有一个运行正在进行，请等待其完成。",
        "A run of this project is already going on; wait until it finishes.",
    ),
    "project_busy": (
        "该项目正在运行或获取数据，结束前不能修改。",
        "A run or fetch of this project is going on; it cannot be changed until it ends.",
    ),
    "stage_load": ("读取输入", "reading inputs"),
    "stage_check": ("检查输入", "checking inputs"),
    "stage_snap+engine": ("计算出行时间", "computing travel times"),
    "stage_coverage": ("统计覆盖", "counting coverage"),
    "stage_gaps": ("查找缺口", "finding gaps"),
    "stage_sensitivity": ("敏感性分析（不同速度）", "sensitivity (other speeds)"),
    "stage_service_areas": ("绘制服务范围", "drawing service areas"),
    "stage_write": ("写出表格", "writing tables"),
    "stage_map": ("绘制地图", "drawing maps"),
    "stage_report": ("生成报告（HTML、PDF）", "writing the report (HTML, PDF)"),
    "stage_start": ("开始", "starting"),
    # results
    "results": ("结果", "Results"),
    "summary": ("覆盖情况", "Coverage"),
    "rule": ("规则", "Rule"),
    "share": ("覆盖率", "Share covered"),
    "covered": ("覆盖人口", "Residents covered"),
    "unreachable": ("不可达", "Unreachable"),
    "met": ("达标", "met"),
    "not_met": ("未达标", "not met"),
    "residents": ("常住人口（研究区）", "Residents (study area)"),
    "warnings": ("警告", "Warnings"),
    "map": ("地图", "Map"),
    "report": ("报告", "Report"),
    "downloads": ("下载", "Downloads"),
    "dl_gaps_xlsx": ("缺口清单（Excel）", "Gap list (Excel)"),
    "dl_gaps_csv": ("缺口清单（CSV）", "Gap list (CSV)"),
    "dl_gaps_gpkg": ("缺口区域（GeoPackage）", "Gap areas (GeoPackage)"),
    "dl_report_pdf": ("报告（PDF）", "Report (PDF)"),
    "dl_report_html": ("报告（HTML）", "Report (HTML)"),
    "dl_map": ("地图（HTML，可离线打开）", "Map (HTML, opens offline)"),
    "dl_rejects": ("被拒绝的设施记录（CSV）", "Rejected facility records (CSV)"),
    "dl_summary": ("summary.json", "summary.json"),
    "no_pdf": (
        "（未生成：需要 Chromium 浏览器打印 PDF）",
        "(not written: printing a PDF needs a Chromium browser)",
    ),
    "facilities_counts": (
        "设施：读入 {read}，使用 {used}，拒绝 {rejected}",
        "Facilities: read {read}, used {used}, rejected {rejected}",
    ),
    "hypothetical": ("设施为假设情景", "facilities are a hypothetical scenario"),
    # errors
    "error": ("错误", "Error"),
    "csrf_error": (
        "表单已过期或来源不明，已拒绝。请返回页面后重新提交。",
        "The form has expired or did not come from this application; refused. Go back, reload "
        "the page and submit again.",
    ),
    "too_large": (
        "上传的文件过大（上限 {limit}）。可用 geoplan serve --max-upload-mb 调高上限，或把文件"
        "放入项目文件夹后在页面中选用。",
        "The upload is too large (limit {limit}). Raise it with geoplan serve --max-upload-mb, "
        "or put the file into the project folder and pick it on the page.",
    ),
    "not_found": ("没有这个页面或文件。", "No such page or file."),
    "internal_error": (
        "应用内部出错（详细信息已写入运行 geoplan serve 的终端）。请返回重试，或报告此问题。",
        "An internal error (the details are in the terminal running geoplan serve). Go back and "
        "try again, or report it.",
    ),
    "bad_host": (
        "请求的主机名不被接受（防止 DNS 重绑定攻击）。",
        "The request's host name is not accepted (protection against DNS rebinding).",
    ),
    "back": ("返回", "Back"),
    "no_file_chosen": ("没有选择文件。", "No file chosen."),
    "bad_name": (
        "名称不能为空，也不能含换行等控制字符。",
        "Names must not be empty or contain line breaks or other control characters.",
    ),
    "choose_one": ("请选择一个地方，或上传边界。", "Choose a place, or upload a boundary."),
}
UI.update({f"mode_{mode}": label for mode, label in MODE_LABELS.items()})  # one source


def tr(key: str, lang: str, **values: object) -> str:
    """The label ``key`` in ``lang`` (``zh`` or ``en``), with ``values`` filled in."""
    text = UI[key][1 if lang == "en" else 0]
    return text.format(**values) if values else text


def travel_text(rule: dict, lang: str) -> str:
    """How a rule of a project file travels, in ``lang``, as the report says it
    (:func:`geoplan.analysis.rules.mode_label`)."""
    return mode_label(rule)[1 if lang == "en" else 0]
