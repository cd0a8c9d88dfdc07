; Glimpse installer (NSIS 3). package-windows.sh passes VERSION, VERSION4,
; SRC (folder holding glimpse.exe and glimpse.ico) and OUT (installer path).
; Glimpse is a 64-bit program, so the installer is one too (it also runs
; under a 64-bit-only wine in the packaging test).
Target amd64-unicode
!include "MUI2.nsh"

Name "Glimpse ${VERSION}"
OutFile "${OUT}"
InstallDir "$PROGRAMFILES64\Glimpse"
InstallDirRegKey HKLM "Software\Glimpse" "InstallDir"
RequestExecutionLevel admin
SetCompressor /SOLID lzma

VIProductVersion "${VERSION4}"
VIAddVersionKey "ProductName" "Glimpse"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "Glimpse installer"
VIAddVersionKey "CompanyName" "Glimpse developers"
VIAddVersionKey "LegalCopyright" "Glimpse developers"

!define MUI_ICON "${SRC}\glimpse.ico"
!define MUI_UNICON "${SRC}\glimpse.ico"
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\glimpse.exe"
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Glimpse"

Section "Glimpse" SecMain
  SectionIn RO
  ; Shortcuts for every user of the machine, as the install is machine-wide.
  SetShellVarContext all
  SetOutPath "$INSTDIR"
  File "${SRC}\glimpse.exe"
  File "${SRC}\glimpse.ico"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateDirectory "$SMPROGRAMS\Glimpse"
  CreateShortcut "$SMPROGRAMS\Glimpse\Glimpse.lnk" "$INSTDIR\glimpse.exe" "" "$INSTDIR\glimpse.ico"
  CreateShortcut "$SMPROGRAMS\Glimpse\Uninstall Glimpse.lnk" "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "Software\Glimpse" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayName" "Glimpse"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTKEY}" "Publisher" "Glimpse developers"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayIcon" "$INSTDIR\glimpse.ico"
  WriteRegStr HKLM "${UNINSTKEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTKEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  SetShellVarContext all
  Delete "$INSTDIR\glimpse.exe"
  Delete "$INSTDIR\glimpse.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\Glimpse\Glimpse.lnk"
  Delete "$SMPROGRAMS\Glimpse\Uninstall Glimpse.lnk"
  RMDir "$SMPROGRAMS\Glimpse"
  DeleteRegKey HKLM "${UNINSTKEY}"
  DeleteRegKey HKLM "Software\Glimpse"
SectionEnd
