<powershell>
# Joins this instance to its Amazon EKS cluster (rendered by eks-windows-nodes).
$ErrorActionPreference = 'Stop'

[string]$EKSBootstrapScriptFile = "$env:ProgramFiles\Amazon\EKS\Start-EKSBootstrap.ps1"
$global:LASTEXITCODE = 0
try {
    & $EKSBootstrapScriptFile -EKSClusterName 'prod-win' -APIServerEndpoint 'https://ENDPOINT' -Base64ClusterCA 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJnVENDQVNlZ0F3SUJBZ0lVTERaSlFLeVEyVy8vQXZrRTV4ZGJ6K3N2SzRRd0NnWUlLb1pJemowRUF3SXcKRlRFVE1CRUdBMVVFQXd3S2EzVmlaWEp1WlhSbGN6QWdGdzB5TmpFeE1qUXhOVFEyTkRsYUdBOHlNVEkyTVRBegpNVEUxTkRZME9Wb3dGVEVUTUJFR0ExVUVBd3dLYTNWaVpYSnVaWFJsY3pCWk1CTUdCeXFHU000OUFnRUdDQ3FHClNNNDlBd0VIQTBJQUJPUTR3MjlOMEhaT2RCYXBhallscUpWY3AyUjFtUGZGdnJ2SjVBdnc1b0k0ZEdWS0svbVYKR2VuQUloNGh4aE5GMDZVcjdZSStPUGYrMTdta0x0dEJLcFdqVXpCUk1CMEdBMVVkRGdRV0JCUm9vamErRmVlQgp0bzhhMmZoUm0yV3pMaUl3RVRBZkJnTlZIU01FR0RBV2dCUm9vamErRmVlQnRvOGEyZmhSbTJXekxpSXdFVEFQCkJnTlZIUk1CQWY4RUJUQURBUUgvTUFvR0NDcUdTTTQ5QkFNQ0EwZ0FNRVVDSVFDd0gwK0Rrc1lJU1lpcHFocU0KbTFtNFZ5cC9XNWErYXladUxOWktBZEJuQXdJZ2NQSVpnNzR2NW81UnVWY0s0YWZ2THJYNEFqdnRPc1d4RVJ2Wgo1VUQ2dm5zPQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==' -ServiceCIDR '10.100.0.0/16' -DNSClusterIP '10.100.0.10' 3>&1 4>&1 5>&1 6>&1
} catch {
    Write-Output "EKS bootstrap failed: $_"
    exit 1
}
if ($LASTEXITCODE -ne 0) {
    Write-Output "EKS bootstrap failed with exit code $LASTEXITCODE"
    exit $LASTEXITCODE
}
</powershell>
