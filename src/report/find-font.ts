// Finds a font for the PNG renderer (resvg draws no text without one). Looks for a few well-known sans
// families in the usual system font folders; CI installs DejaVu (fonts-dejavu-core). Null when none is
// found: the SVGs are still right, the PNGs then lack text (the caller warns).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface FontChoice {
  /** Family name resvg should use for 'sans-serif' and unknown families. */
  readonly family: string;
  /** The font files of that family that were found. */
  readonly files: readonly string[];
}

const FONT_DIRS = [
  '/usr/share/fonts',
  '/usr/local/share/fonts',
  '/usr/X11R6/lib/X11/fonts',
  '/Library/Fonts',
  '/System/Library/Fonts',
  'C:\\Windows\\Fonts',
];

// Regular (and bold, for titles) files of each family, by file name as the distributions ship them.
const FAMILIES: readonly { family: string; files: RegExp }[] = [
  { family: 'DejaVu Sans', files: /^DejaVuSans(-Bold)?\.ttf$/ },
  { family: 'Liberation Sans', files: /^LiberationSans-(Regular|Bold)\.ttf$/ },
  { family: 'Noto Sans', files: /^NotoSans-(Regular|Bold)\.ttf$/ },
  { family: 'Verdana', files: /^Verdana(\s?Bold)?\.ttf$/i },
  { family: 'Arial', files: /^Arial(\s?Bold)?\.ttf$/i },
];

function listFonts(dir: string, depth: number, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    let dirent: ReturnType<typeof statSync>;
    try {
      dirent = statSync(p);
    } catch {
      continue;
    }
    if (dirent.isDirectory()) {
      if (depth > 0) listFonts(p, depth - 1, out);
    } else if (/\.(ttf|otf)$/i.test(n)) out.push(p);
  }
}

/** The first family of FAMILIES with files under `dirs` (default: the system font folders). */
export function findFont(dirs: readonly string[] = FONT_DIRS): FontChoice | null {
  const files: string[] = [];
  for (const d of dirs) if (existsSync(d)) listFonts(d, 4, files);
  for (const f of FAMILIES) {
    const found = files.filter((p) => f.files.test(p.split(/[\\/]/).pop()!));
    if (found.length > 0) return { family: f.family, files: found };
  }
  return null;
}
